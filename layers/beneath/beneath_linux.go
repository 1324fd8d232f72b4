// Package beneath opens, creates, changes and removes paths under a root
// directory without ever leaving it, whatever symlinks the tree holds.
//
// A build context, a layer and a RUN's upper dir are written by people
// strata does not trust: any of them may hold `x -> /etc` or `x -> ../../..`.
// Joining a root and a name and handing the result to the kernel follows
// such a link onto the host. Every name given to a Root is instead resolved
// by openat2(2) relative to the root's file descriptor with RESOLVE_BENEATH
// (an absolute symlink, a "..", or a relative link that climbs out fails
// with ErrOutside) and RESOLVE_NO_MAGICLINKS; the last component is then
// changed relative to its parent's descriptor with AT_SYMLINK_NOFOLLOW, so
// a final symlink is changed itself, never its target.
//
// A Root opened with NoSymlinks refuses any symlink on the way: a layer
// directory's paths are real directories all the way down (a symlink there
// is the image's business, resolved by layers.View inside the image).
package beneath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// ErrOutside is wrapped by every error of a name that resolves outside its
// root.
var ErrOutside = errors.New("path resolves outside its root")

// ErrSymlink is wrapped by the errors of a NoSymlinks root that met a
// symlink on the way.
var ErrSymlink = errors.New("a symlink is on the way")

// Mode says how symlinks met on the way are treated.
type Mode int

const (
	// FollowInside follows symlinks on the way while they stay beneath the
	// root; an absolute one, or one that climbs out, fails with ErrOutside.
	FollowInside Mode = iota
	// NoSymlinks fails with ErrSymlink at any symlink on the way.
	NoSymlinks
)

// Root is an open directory. Its methods take names relative to it ("a/b";
// a leading "/" means the root too, and ".." never climbs above it). It is
// safe for concurrent use.
type Root struct {
	fd      int
	name    string
	resolve uint64
}

// Open opens dir as a Root.
func Open(dir string, mode Mode) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	r := &Root{fd: fd, name: dir, resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	if mode == NoSymlinks {
		r.resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	return r, nil
}

// Close releases the root's descriptor.
func (r *Root) Close() error {
	if r == nil || r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// Name is the directory the root was opened as.
func (r *Root) Name() string { return r.name }

// Path is the host path of name, for messages only: never open it.
func (r *Root) Path(name string) string { return filepath.Join(r.name, rel(name)) }

// rel cleans a name into a path relative to the root ("." for the root).
func rel(name string) string {
	c := path.Clean("/" + name)
	if c == "/" {
		return "."
	}
	return c[1:]
}

func (r *Root) err(op, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EXDEV):
		err = ErrOutside
	case errors.Is(err, unix.ELOOP) && r.resolve&unix.RESOLVE_NO_SYMLINKS != 0:
		err = ErrSymlink
	}
	return &fs.PathError{Op: op, Path: r.Path(name), Err: err}
}

// openat2 opens name (already relative) from dirfd, retrying the EAGAIN
// that RESOLVE_BENEATH returns when a rename raced the lookup.
func (r *Root) openat2(dirfd int, name string, flags uint64, mode uint32) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Mode: uint64(mode), Resolve: r.resolve}
	for range 64 {
		fd, err := unix.Openat2(dirfd, name, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// parent opens the directory holding name (O_PATH) and returns it with the
// last component. For the root itself it returns a dup of the root and ".".
func (r *Root) parent(name string) (int, string, error) {
	rp := rel(name)
	if rp == "." {
		fd, err := unix.Dup(r.fd)
		return fd, ".", err
	}
	dir, base := path.Split(rp)
	if dir == "" {
		dir = "."
	}
	fd, err := r.openat2(r.fd, strings.TrimSuffix(dir, "/"), unix.O_PATH|unix.O_DIRECTORY, 0)
	return fd, base, err
}

// OpenFile opens name with os.OpenFile's flags. The last component is
// followed (beneath the root) unless flag has O_NOFOLLOW; O_CREATE|O_EXCL
// never follows.
func (r *Root) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	fd, err := r.openat2(r.fd, rel(name), uint64(flag), uint32(perm.Perm()))
	if err != nil {
		return nil, r.err("open", name, err)
	}
	return os.NewFile(uintptr(fd), r.Path(name)), nil
}

// Open opens name for reading. It never blocks on a fifo (O_NONBLOCK): a
// tree written by a stranger may hold one where a file is expected.
func (r *Root) Open(name string) (*os.File, error) {
	return r.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK, 0)
}

// OpenDirFd opens the directory name and returns its descriptor (O_PATH
// when pathOnly), for fd-relative work; the caller closes it.
func (r *Root) OpenDirFd(name string, pathOnly bool) (int, error) {
	fl := uint64(unix.O_DIRECTORY | unix.O_RDONLY)
	if pathOnly {
		fl = unix.O_DIRECTORY | unix.O_PATH
	}
	fd, err := r.openat2(r.fd, rel(name), fl, 0)
	return fd, r.err("open", name, err)
}

// Lstat describes name; a final symlink is described itself.
func (r *Root) Lstat(name string) (fs.FileInfo, error) { return r.stat("lstat", name, unix.O_NOFOLLOW) }

// Stat describes name, a final symlink followed beneath the root.
func (r *Root) Stat(name string) (fs.FileInfo, error) { return r.stat("stat", name, 0) }

func (r *Root) stat(op, name string, nofollow int) (fs.FileInfo, error) {
	fd, err := r.openat2(r.fd, rel(name), uint64(unix.O_PATH|nofollow), 0)
	if err != nil {
		return nil, r.err(op, name, err)
	}
	defer unix.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, r.err(op, name, err)
	}
	return newInfo(path.Base("/"+rel(name)), &st), nil
}

// ReadDir lists the directory name (a final symlink followed beneath the
// root), sorted by name; symlinks inside are described, not followed.
func (r *Root) ReadDir(name string) ([]fs.FileInfo, error) {
	fd, err := r.openat2(r.fd, rel(name), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, r.err("readdir", name, err)
	}
	f := os.NewFile(uintptr(fd), r.Path(name))
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, r.err("readdir", name, err)
	}
	sort.Strings(names)
	out := make([]fs.FileInfo, 0, len(names))
	for _, n := range names {
		var st syscall.Stat_t
		if err := fstatat(fd, n, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed since listed
			}
			return nil, r.err("lstat", path.Join(rel(name), n), err)
		}
		out = append(out, newInfo(n, &st))
	}
	return out, nil
}

// fstatat is fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) into a
// syscall.Stat_t (what fs.FileInfo.Sys holds everywhere else).
func fstatat(dirfd int, name string, st *syscall.Stat_t) error {
	// unix.Stat_t and syscall.Stat_t are the same kernel struct.
	return unix.Fstatat(dirfd, name, (*unix.Stat_t)(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW)
}

var _ = [1]struct{}{}[unsafe.Sizeof(unix.Stat_t{})-unsafe.Sizeof(syscall.Stat_t{})]

// Readlink reads the symlink name (not followed, whatever it holds).
func (r *Root) Readlink(name string) (string, error) {
	dfd, base, err := r.parent(name)
	if err != nil {
		return "", r.err("readlink", name, err)
	}
	defer unix.Close(dfd)
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dfd, base, buf)
		if err != nil {
			return "", r.err("readlink", name, err)
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// at runs fn, which creates, links or removes an entry, with name's parent
// descriptor and last component; the root itself is refused (EINVAL).
func (r *Root) at(op, name string, fn func(dirfd int, base string) error) error {
	if rel(name) == "." {
		return r.err(op, name, unix.EINVAL)
	}
	return r.onEntry(op, name, fn)
}

// onEntry runs fn, which changes or reads the entry itself, with name's
// parent descriptor and last component: for the root itself, a dup of the
// root and ".".
func (r *Root) onEntry(op, name string, fn func(dirfd int, base string) error) error {
	dfd, base, err := r.parent(name)
	if err != nil {
		return r.err(op, name, err)
	}
	defer unix.Close(dfd)
	return r.err(op, name, fn(dfd, base))
}

// Mkdir creates the directory name.
func (r *Root) Mkdir(name string, perm os.FileMode) error {
	return r.at("mkdir", name, func(d int, b string) error { return unix.Mkdirat(d, b, uint32(perm.Perm())) })
}

// MkdirAll creates name and its missing parents (perm, before umask); an
// existing directory (or symlink to one beneath the root) is kept.
func (r *Root) MkdirAll(name string, perm os.FileMode) error {
	rp := rel(name)
	if rp == "." {
		return nil
	}
	comps := strings.Split(rp, "/")
	for i := range comps {
		p := strings.Join(comps[:i+1], "/")
		fd, err := r.openat2(r.fd, p, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return r.err("mkdir", p, err)
		}
		if err := r.Mkdir(p, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// Remove removes the file, symlink or empty directory name.
func (r *Root) Remove(name string) error {
	return r.at("remove", name, func(d int, b string) error {
		err := unix.Unlinkat(d, b, 0)
		if err == unix.EISDIR || err == unix.EPERM {
			if err2 := unix.Unlinkat(d, b, unix.AT_REMOVEDIR); err2 != unix.ENOTDIR {
				return err2
			}
		}
		return err
	})
}

// RemoveAll removes name and everything below it; a missing name is no
// error. Symlinks are removed, never followed.
func (r *Root) RemoveAll(name string) error {
	if rel(name) == "." {
		return r.err("removeall", name, unix.EINVAL)
	}
	err := r.at("removeall", name, removeAllAt)
	if errors.Is(err, unix.ENOENT) {
		return nil // already gone, or a parent is
	}
	return err
}

func removeAllAt(dirfd int, base string) error {
	err := unix.Unlinkat(dirfd, base, 0)
	if err == nil || (err != unix.EISDIR && err != unix.EPERM) {
		return err
	}
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	for {
		names, err := f.Readdirnames(512)
		for _, n := range names {
			if err := removeAllAt(fd, n); err != nil && err != unix.ENOENT {
				f.Close()
				return err
			}
		}
		if err != nil || len(names) == 0 {
			break
		}
		// Entries were removed: list again from the start.
		if _, err := unix.Seek(fd, 0, 0); err != nil {
			f.Close()
			return err
		}
	}
	f.Close()
	return unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR)
}

// Symlink creates name as a symlink to target (stored as given: a symlink
// is data, and only ever followed beneath a root).
func (r *Root) Symlink(target, name string) error {
	return r.at("symlink", name, func(d int, b string) error { return unix.Symlinkat(target, d, b) })
}

// Link makes newname a hard link of oldname (oldname not followed).
func (r *Root) Link(oldname, newname string) error {
	od, ob, err := r.parent(oldname)
	if err != nil {
		return r.err("link", oldname, err)
	}
	defer unix.Close(od)
	return r.at("link", newname, func(d int, b string) error { return unix.Linkat(od, ob, d, b, 0) })
}

// Mknod creates a device node or fifo (mode holds the S_IF type).
func (r *Root) Mknod(name string, mode uint32, dev int) error {
	return r.at("mknod", name, func(d int, b string) error { return unix.Mknodat(d, b, mode, dev) })
}

// Lchown changes the owner of name itself (a symlink is not followed).
func (r *Root) Lchown(name string, uid, gid int) error {
	err := r.onEntry("lchown", name, func(d int, b string) error {
		if b == "." {
			return unix.Fchownat(d, "", uid, gid, unix.AT_EMPTY_PATH)
		}
		return unix.Fchownat(d, b, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	})
	return rootless.OwnerError(err, uid, gid) // an id a rootless strata has not
}

// Chmod sets the permission bits (with setuid, setgid and sticky) of name,
// which must not be a symlink: a final symlink is an error, never followed.
func (r *Root) Chmod(name string, mode os.FileMode) error {
	m := uint32(mode.Perm())
	if mode&os.ModeSetuid != 0 {
		m |= unix.S_ISUID
	}
	if mode&os.ModeSetgid != 0 {
		m |= unix.S_ISGID
	}
	if mode&os.ModeSticky != 0 {
		m |= unix.S_ISVTX
	}
	return r.onEntry("chmod", name, func(d int, b string) error {
		// Pin the object: an O_PATH fd of the name itself, then chmod it
		// through /proc (fchmod does not take O_PATH fds).
		fd, err := unix.Openat(d, b, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return unix.ELOOP
		}
		err = unix.Fchmodat(fd, "", m, unix.AT_EMPTY_PATH)
		if err == nil {
			return nil
		}
		return unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), m, 0)
	})
}

// Chtimes sets the access and modification times of name itself.
func (r *Root) Chtimes(name string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return r.onEntry("chtimes", name, func(d int, b string) error {
		if b == "." {
			return unix.UtimesNanoAt(d, "", ts, unix.AT_EMPTY_PATH)
		}
		return unix.UtimesNanoAt(d, b, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// procPath is a path naming base inside the pinned directory dfd, for the
// xattr calls that have no *at form.
func procPath(dfd int, base string) string {
	if base == "." {
		return "/proc/self/fd/" + strconv.Itoa(dfd)
	}
	return "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + base
}

// Lsetxattr sets an extended attribute of name itself.
func (r *Root) Lsetxattr(name, attr string, val []byte) error {
	return r.onEntry("setxattr", name, func(d int, b string) error { return unix.Lsetxattr(procPath(d, b), attr, val, 0) })
}

// Lremovexattr removes an extended attribute of name itself.
func (r *Root) Lremovexattr(name, attr string) error {
	return r.onEntry("removexattr", name, func(d int, b string) error { return unix.Lremovexattr(procPath(d, b), attr) })
}

// Lgetxattr reads an extended attribute of name itself.
func (r *Root) Lgetxattr(name, attr string) ([]byte, error) {
	var out []byte
	err := r.onEntry("getxattr", name, func(d int, b string) error {
		p := procPath(d, b)
		sz, err := unix.Lgetxattr(p, attr, nil)
		if err != nil {
			return err
		}
		out = make([]byte, sz)
		sz, err = unix.Lgetxattr(p, attr, out)
		out = out[:max(sz, 0)]
		return err
	})
	return out, err
}

// Llistxattr lists the extended attribute names of name itself.
func (r *Root) Llistxattr(name string) ([]string, error) {
	var out []string
	err := r.onEntry("listxattr", name, func(d int, b string) error {
		p := procPath(d, b)
		sz, err := unix.Llistxattr(p, nil)
		if err != nil || sz <= 0 {
			return err
		}
		buf := make([]byte, sz)
		sz, err = unix.Llistxattr(p, buf)
		if err != nil {
			return err
		}
		for _, n := range strings.Split(string(buf[:sz]), "\x00") {
			if n != "" {
				out = append(out, n)
			}
		}
		return nil
	})
	return out, err
}

// info is an fs.FileInfo from a stat, as os.Lstat makes it (Sys is a
// *syscall.Stat_t).
type info struct {
	name string
	st   syscall.Stat_t
}

func newInfo(name string, st *syscall.Stat_t) *info { return &info{name: name, st: *st} }

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.st.Size }
func (i *info) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i *info) IsDir() bool        { return i.Mode().IsDir() }
func (i *info) Sys() any           { return &i.st }
func (i *info) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if i.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if i.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if i.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func (i *info) String() string { return fmt.Sprintf("%s %v", i.name, i.Mode()) }
