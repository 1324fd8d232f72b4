package frontend

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/bytesize"
)

// maxDockerfileSize is the most BuildKit reads of a Dockerfile or an ignore
// file (dockerui's maxFileSize, its gRPC message size: 16 MiB); it refuses
// larger ones, and so does strata, before reading them.
const maxDockerfileSize = 16 << 20

// Errors of readInDir, wrapped with the file's name.
var (
	// errLinkOutside: the file is a symlink whose target, resolved inside
	// the directory, is not there (an absolute link, or one through "..").
	errLinkOutside = errors.New("it is a symlink whose target is not inside the folder that holds it")
	errNotRegular  = errors.New("it is not a regular file")
	errTooLarge    = fmt.Errorf("it is larger than %s, the most BuildKit reads of a Dockerfile or an ignore file", bytesize.Binary(maxDockerfileSize))
)

// readInDir reads the file name of dir as BuildKit's Dockerfile frontend
// reads the Dockerfile and the ignore files from their local source:
//
//   - symlinks are resolved as if dir were the root (fsutil's FollowLinks on
//     the client, continuity's RootPath in the daemon): an absolute link or
//     a ".." never leaves dir, so a Dockerfile linked to a host file finds
//     nothing (errLinkOutside), while a relative link to another file of dir
//     works;
//   - only a regular file is opened (openfile.Regular: O_PATH first, so a
//     device node is never opened and a fifo never blocks);
//   - at most maxDockerfileSize bytes.
//
// openat2(RESOLVE_IN_ROOT) does the first in the kernel. The errors name
// the file as given (dir and name), never where a link points.
func readInDir(dir, name string) ([]byte, error) {
	shown := filepath.Join(dir, name)
	fail := func(err error) error { return &fs.PathError{Op: "read", Path: ShortPath(shown), Err: err} }
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fail(err)
	}
	defer unix.Close(dfd)
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	var fd int
	for range 64 {
		fd, err = unix.Openat2(dfd, name, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			if fi, lerr := os.Lstat(shown); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return nil, fail(errLinkOutside)
			}
		}
		return nil, fail(err)
	}
	pinned := os.NewFile(uintptr(fd), shown)
	defer pinned.Close()
	fi, err := pinned.Stat()
	if err != nil {
		return nil, fail(err)
	}
	if !fi.Mode().IsRegular() {
		kind := "a special file"
		switch {
		case fi.IsDir():
			kind = "a directory"
		case fi.Mode()&fs.ModeNamedPipe != 0:
			kind = "a fifo"
		case fi.Mode()&fs.ModeDevice != 0:
			kind = "a device"
		case fi.Mode()&fs.ModeSocket != 0:
			kind = "a socket"
		}
		return nil, fail(fmt.Errorf("%w (%s)", errNotRegular, kind))
	}
	if fi.Size() > maxDockerfileSize {
		return nil, fail(errTooLarge)
	}
	// Reopen the inode that was checked, not the path again.
	f, err := os.Open("/proc/self/fd/" + strconv.Itoa(int(pinned.Fd())))
	if err != nil {
		return nil, fail(ErrnoOf(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDockerfileSize+1))
	if err != nil {
		return nil, fail(ErrnoOf(err))
	}
	if len(b) > maxDockerfileSize {
		return nil, fail(errTooLarge)
	}
	return b, nil
}

// errnoOf is the error of a path error without its path (the path there
// may be a /proc/self/fd link or a host path the message must not show).
func ErrnoOf(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
