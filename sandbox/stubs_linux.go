package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// cleanStubs undoes, in the (now unmounted) upper dir, what creating mount
// points did: stub files and directories are removed, directories copied up
// only because of them are removed again, and directory times are restored
// where the command did not change the directory itself.
func cleanStubs(upper string, st *stubs) error {
	up := func(p string) string { return filepath.Join(upper, p) }
	// Which touched dirs did the command leave alone? Decide before removing
	// anything, since removing changes mtimes.
	untouched := make([]bool, len(st.Touched))
	for i, d := range st.Touched {
		var s unix.Stat_t
		if unix.Lstat(up(d.Path), &s) == nil && s.Mtim.Nano() == d.After {
			untouched[i] = true
		}
	}
	var errs []error
	for i := len(st.Created) - 1; i >= 0; i-- {
		c := st.Created[i]
		p := up(c.Path)
		var s unix.Stat_t
		if err := unix.Lstat(p, &s); err != nil {
			continue
		}
		if c.Dir {
			if s.Mode&unix.S_IFMT == unix.S_IFDIR {
				// Fails (and stays) when the command put something in it.
				_ = unix.Rmdir(p)
			}
			continue
		}
		if s.Mode&unix.S_IFMT == unix.S_IFREG && s.Size == 0 {
			if err := unix.Unlink(p); err != nil {
				errs = append(errs, fmt.Errorf("sandbox: remove mount point stub %s: %w", p, err))
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
		p := up(d.Path)
		var s unix.Stat_t
		if err := unix.Lstat(p, &s); err != nil || s.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if d.CopiedUp && d.Path != "/" && untouched[i] && s.Mode == d.Mode && s.Uid == d.UID && s.Gid == d.GID && emptyDir(p) && !opaque(p) {
			if err := unix.Rmdir(p); err == nil {
				continue
			}
		}
		if untouched[i] {
			ts := []unix.Timespec{unix.NsecToTimespec(d.Atime), unix.NsecToTimespec(d.Mtime)}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				errs = append(errs, fmt.Errorf("sandbox: restore times of %s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

func emptyDir(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

func opaque(p string) bool {
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if sz, err := unix.Lgetxattr(p, name, nil); err == nil && sz > 0 {
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
