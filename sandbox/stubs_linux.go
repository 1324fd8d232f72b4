package sandbox

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/strata-build/strata/layers/beneath"
	"golang.org/x/sys/unix"
)

// cleanStubs undoes, in the (now unmounted) upper dir, what creating mount
// points did: stub files and directories are removed, directories copied up
// only because of them are removed again, and directory times are restored
// where the command did not change the directory itself.
func cleanStubs(upper string, st *stubs) error {
	// The command ran as it liked in the upper dir: a stub's parent may now
	// be a symlink to anywhere (`mv /x /x.old && ln -s /host/dir /x`). Every
	// path is resolved beneath upper with no symlink on the way; a path that
	// meets one is no longer the stub strata made, and is left alone.
	root, err := beneath.Open(upper, beneath.NoSymlinks)
	if err != nil {
		return fmt.Errorf("sandbox: clean mount point stubs: %w", err)
	}
	defer root.Close()
	lstat := func(p string) (*syscall.Stat_t, bool) {
		fi, err := root.Lstat(p)
		if err != nil {
			return nil, false
		}
		return fi.Sys().(*syscall.Stat_t), true
	}
	// Which touched dirs did the command leave alone? Decide before removing
	// anything, since removing changes mtimes.
	untouched := make([]bool, len(st.Touched))
	for i, d := range st.Touched {
		if s, ok := lstat(d.Path); ok && s.Mtim.Nano() == d.After {
			untouched[i] = true
		}
	}
	var errs []error
	for i := len(st.Created) - 1; i >= 0; i-- {
		c := st.Created[i]
		s, ok := lstat(c.Path)
		if !ok {
			continue
		}
		if c.Dir {
			if s.Mode&unix.S_IFMT == unix.S_IFDIR {
				// Fails (and stays) when the command put something in it.
				_ = root.Remove(c.Path)
			}
			continue
		}
		if s.Mode&unix.S_IFMT == unix.S_IFREG && s.Size == 0 {
			if err := root.Remove(c.Path); err != nil {
				errs = append(errs, fmt.Errorf("sandbox: remove mount point stub %s: %w", c.Path, err))
			}
		}
	}
	// Deepest directories first.
	order := make([]int, len(st.Touched))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return depth(st.Touched[order[a]].Path) > depth(st.Touched[order[b]].Path)
	})
	for _, i := range order {
		d := st.Touched[i]
		s, ok := lstat(d.Path)
		if !ok || s.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if d.CopiedUp && d.Path != "/" && untouched[i] && s.Mode == d.Mode && s.Uid == d.UID && s.Gid == d.GID && emptyDir(root, d.Path) && !opaque(root, d.Path) {
			if err := root.Remove(d.Path); err == nil {
				continue
			}
		}
		if untouched[i] {
			if err := root.Chtimes(d.Path, time.Unix(0, d.Atime), time.Unix(0, d.Mtime)); err != nil {
				errs = append(errs, fmt.Errorf("sandbox: restore times of %s: %w", d.Path, err))
			}
		}
	}
	return errors.Join(errs...)
}

func emptyDir(root *beneath.Root, p string) bool {
	f, err := root.OpenFile(p, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

func opaque(root *beneath.Root, p string) bool {
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if v, err := root.Lgetxattr(p, name); err == nil && len(v) > 0 {
			return true
		}
	}
	return false
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}
