package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// rootfs is the mounted container root seen from the init before pivot_root.
// Paths inside it are resolved with openat2(RESOLVE_IN_ROOT), so a symlink in
// the image can never make a mount land outside of it.
type rootfs struct {
	path  string // host path of the mounted overlay
	fd    int    // O_PATH fd of path
	upper string // overlay upper dir (host path)

	stubs   stubs
	touched map[string]int // index into stubs.Touched
}

func openRootfs(p, upper string) (*rootfs, error) {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open rootfs", Path: p, Err: err}
	}
	return &rootfs{path: p, fd: fd, upper: upper, touched: map[string]int{}}, nil
}

// clean turns a container path into a clean absolute path.
func clean(p string) string { return path.Clean("/" + p) }

// resolve opens p (a container path) as O_PATH, resolving symlinks inside the
// root. flags may add O_DIRECTORY or O_NOFOLLOW.
func (r *rootfs) resolve(p string, flags int) (int, error) {
	rel := strings.TrimPrefix(clean(p), "/")
	if rel == "" {
		rel = "."
	}
	return unix.Openat2(r.fd, rel, &unix.OpenHow{
		Flags:   uint64(unix.O_PATH | unix.O_CLOEXEC | flags),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// containerPath returns the container path of an fd inside the root.
func (r *rootfs) containerPath(fd int) (string, error) {
	hp, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	if hp == r.path {
		return "/", nil
	}
	rel, ok := strings.CutPrefix(hp, r.path+"/")
	if !ok {
		return "", fmt.Errorf("path %q escaped the container root %q", hp, r.path)
	}
	return "/" + rel, nil
}

// hostPath is the host path of a resolved container path (no symlinks).
func (r *rootfs) hostPath(cp string) string { return filepath.Join(r.path, cp) }

// noteTouch records that an entry is about to be created in the directory
// with the resolved container path dir: the directory and its ancestors that
// exist only in a lower layer will be copied up, and the directory's times
// change. The parent undoes both after the run.
func (r *rootfs) noteTouch(dir string) error {
	var chain []string
	for d := dir; ; d = path.Dir(d) {
		chain = append(chain, d)
		if d == "/" {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		d := chain[i]
		if _, ok := r.touched[d]; ok {
			continue
		}
		var st unix.Stat_t
		copiedUp := false
		if err := unix.Lstat(filepath.Join(r.upper, d), &st); err != nil {
			if !errors.Is(err, unix.ENOENT) {
				return &os.PathError{Op: "lstat", Path: filepath.Join(r.upper, d), Err: err}
			}
			copiedUp = true
			if err := unix.Lstat(r.hostPath(d), &st); err != nil {
				return &os.PathError{Op: "lstat", Path: r.hostPath(d), Err: err}
			}
		}
		if !copiedUp && d != dir {
			continue // an ancestor already in upper: unchanged by creating below it
		}
		r.touched[d] = len(r.stubs.Touched)
		r.stubs.Touched = append(r.stubs.Touched, dirEntry{
			Path: d, CopiedUp: copiedUp, Mode: st.Mode, UID: st.Uid, GID: st.Gid,
			Atime: st.Atim.Nano(), Mtime: st.Mtim.Nano(),
		})
	}
	return nil
}

// finishStubs records the mtimes of the touched directories once all stubs
// exist, so the parent can tell whether the command changed them as well.
func (r *rootfs) finishStubs() {
	for i := range r.stubs.Touched {
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(r.upper, r.stubs.Touched[i].Path), &st) == nil {
			r.stubs.Touched[i].After = st.Mtim.Nano()
		}
	}
}

// mkdirAll makes sure the container directory p exists, creating missing
// components (0755, root) as stubs, and returns an O_PATH fd of it.
func (r *rootfs) mkdirAll(p string) (int, error) {
	p = clean(p)
	fd, err := r.resolve(p, unix.O_DIRECTORY)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		if err != nil {
			err = &os.PathError{Op: "open", Path: p, Err: err}
		}
		return fd, err
	}
	parent, err := r.mkdirAll(path.Dir(p))
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	if _, err := r.create(parent, path.Base(p), true); err != nil {
		return -1, err
	}
	fd, err = unix.Openat2(parent, path.Base(p), &unix.OpenHow{
		Flags: uint64(unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY | unix.O_NOFOLLOW),
	})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return fd, nil
}

// create makes a stub file or directory name in the directory parent.
func (r *rootfs) create(parent int, name string, dir bool) (string, error) {
	pp, err := r.containerPath(parent)
	if err != nil {
		return "", err
	}
	cp := path.Join(pp, name)
	if err := r.noteTouch(pp); err != nil {
		return "", err
	}
	if dir {
		err = unix.Mkdirat(parent, name, 0o755)
	} else {
		var fd int
		fd, err = unix.Openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
	}
	if errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("create mount point %s: exists but cannot be resolved inside the container (dangling symlink?)", cp)
	}
	if err != nil {
		return "", &os.PathError{Op: "create mount point", Path: cp, Err: err}
	}
	r.stubs.Created = append(r.stubs.Created, stubEntry{Path: cp, Dir: dir})
	return cp, nil
}

// mountPoint makes sure the container path p exists as a directory (dir) or
// a non-directory, creating it and its parents as stubs if missing, and
// returns an O_PATH fd of it and its resolved container path.
func (r *rootfs) mountPoint(p string, dir bool) (int, string, error) {
	p = clean(p)
	if dir {
		fd, err := r.mkdirAll(p)
		if err != nil {
			return -1, "", err
		}
		cp, err := r.containerPath(fd)
		if err != nil {
			unix.Close(fd)
			return -1, "", err
		}
		return fd, cp, nil
	}
	fd, err := r.resolve(p, 0)
	if errors.Is(err, unix.ENOENT) {
		parent, perr := r.mkdirAll(path.Dir(p))
		if perr != nil {
			return -1, "", perr
		}
		_, err = r.create(parent, path.Base(p), false)
		if err == nil {
			fd, err = unix.Openat2(parent, path.Base(p), &unix.OpenHow{
				Flags: uint64(unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW),
			})
		}
		unix.Close(parent)
		if err != nil {
			return -1, "", err
		}
	} else if err != nil {
		return -1, "", &os.PathError{Op: "open mount point", Path: p, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		unix.Close(fd)
		return -1, "", fmt.Errorf("mount point %s: is a directory, the mount source is a file", p)
	}
	cp, err := r.containerPath(fd)
	if err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	return fd, cp, nil
}
