package build

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/layers/beneath"
	"golang.org/x/sys/unix"
)

// stager builds a layer without a container: an upper-dir-shaped scratch
// tree over the stage's view. Parent directories that exist in the image
// are copied up with their metadata, as overlayfs would.
//
// Every write into the scratch tree goes through root: a symlink the same
// COPY made earlier (a context's `x -> /etc`) is never followed onto the
// host.
type stager struct {
	view *layers.View
	dir  string        // the scratch tree (becomes the layer's fs)
	root *beneath.Root // dir, every path resolved beneath it
	link bool          // COPY --link: do not look at the image
	// linkedOutside, when set, reports the inodes linked from the last
	// build's layer that have no other link in this tree (incremental.go).
	linkedOutside func(ino uint64) bool
}

// resolveDest follows the image's symlinks in p's parents (and in p when
// follow), so COPY into /bin on a usr-merged image lands in /usr/bin.
func (s *stager) resolveDest(p string, follow bool) (string, error) {
	if s.link {
		return path.Clean("/" + p), nil
	}
	return s.view.Resolve(p, follow)
}

// mkdirAll makes dir p (already resolved) and its parents in the scratch
// tree. Existing image dirs are copied up; new ones get mode and owner.
func (s *stager) mkdirAll(p string, mode fs.FileMode, uid, gid int, chownNew bool) error {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	if err := s.mkdirAll(path.Dir(p), 0o755, uid, gid, chownNew); err != nil {
		return err
	}
	if fi, err := s.root.Lstat(p); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("cannot create directory %s: a file of that name is in the way", p)
		}
		return nil
	}
	if !s.link {
		if e, err := s.view.Lstat(p); err == nil {
			if !e.Info.IsDir() {
				if e.Info.Mode()&fs.ModeSymlink != 0 {
					return fmt.Errorf("cannot create directory %s: it is a symlink in the image", p)
				}
				return fmt.Errorf("cannot create directory %s: the image has a file there, not a directory (remove it in a RUN step first, or pick another path)", p)
			}
			st := e.Info.Sys().(*syscall.Stat_t)
			if err := s.root.Mkdir(p, 0o700); err != nil {
				return err
			}
			if err := s.root.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
			if err := s.root.Chmod(p, e.Info.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
			copyXattrs(e.Host, s.root, p)
			return nil
		}
	}
	if err := s.root.Mkdir(p, 0o700); err != nil {
		return err
	}
	// Under a setgid parent a new directory takes the parent's group and
	// keeps the setgid bit (Linux's rule): BuildKit's copy makes parents
	// with os.Mkdir and chowns them only for --chown (fsutil MkdirAll).
	newGID := 0
	if fi, err := s.root.Lstat(path.Dir(p)); err == nil && path.Dir(p) != "/" && fi.Mode()&fs.ModeSetgid != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			newGID = int(st.Gid)
		}
		mode |= fs.ModeSetgid
	}
	if chownNew {
		if err := s.root.Lchown(p, uid, gid); err != nil {
			return err
		}
	} else if err := s.root.Lchown(p, 0, newGID); err != nil {
		return err
	}
	return s.root.Chmod(p, mode)
}

// copyXattrs copies the extended attributes of the host path from (a
// source already resolved safely) to name in the scratch root.
func copyXattrs(from string, root *beneath.Root, to string) {
	sz, err := unix.Llistxattr(from, nil)
	if err != nil || sz <= 0 {
		return
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(from, buf)
	if err != nil {
		return
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		vs, err := unix.Lgetxattr(from, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vs)
		vs, err = unix.Lgetxattr(from, name, val)
		if err == nil {
			root.Lsetxattr(to, name, val[:vs])
		}
	}
}

// makeLayer builds a layer in scratch with fn, then writes its tar and
// change list in one pass (layers.Diff).
func (e *Executor) makeLayer(view *layers.View, fn func(*stager) error) (*layers.PendingLayer, error) {
	return e.makeLayerLink(view, false, fn)
}

func (e *Executor) makeLayerLink(view *layers.View, link bool, fn func(*stager) error) (*layers.PendingLayer, error) {
	tmp, err := e.Store.TempDir("step-")
	if err != nil {
		return nil, err
	}
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		layers.RemoveAll(tmp)
		return nil, err
	}
	root, err := beneath.Open(fsDir, beneath.FollowInside)
	if err != nil {
		layers.RemoveAll(tmp)
		return nil, err
	}
	s := &stager{view: view, dir: fsDir, root: root, link: link}
	err = fn(s)
	opt := layers.DiffOptions{LinkedOutside: s.linkedOutside}
	root.Close()
	if err != nil {
		layers.RemoveAll(tmp)
		return nil, err
	}
	lowers := view.Lowers
	if link {
		lowers = nil
	}
	pl, err := e.diffToLayer(fsDir, lowers, tmp, opt)
	if err != nil {
		layers.RemoveAll(tmp)
		return nil, err
	}
	pl.FS = fsDir
	return pl, nil
}

// diffToLayer writes upper's change as a tar in dir and hashes it.
func (e *Executor) diffToLayer(upper string, lowers []string, dir string, opt layers.DiffOptions) (*layers.PendingLayer, error) {
	return layers.DiffLayer(upper, lowers, dir, opt)
}
