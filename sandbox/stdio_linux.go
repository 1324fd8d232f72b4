package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// The command's stdio, without Spec.Tty, is /dev/null or a pipe that Run
// created for this run, never a file of the caller: an *os.File given as
// Spec.Stdin, stdout or stderr is copied through a pipe like any other
// reader or writer, as docker run gives a container pipes (a FIFO of
// containerd's shim) and not its own terminal or files. Handed on as it was,
// such a file would give the container the host file itself: its root
// (CAP_DAC_OVERRIDE, no user namespace) could reopen through /proc/self/fd
// and write a file given only to be read as stdin, and strata's terminal
// (usually open read-write as fds 0-2) would be the container's to read the
// user's keystrokes from and to set modes on that outlive the run.

// runOutputs returns what exec.Cmd gets as the command's stdout and stderr.
// Each non-nil writer gets a pipe of the run (exec.Cmd creates it and copies
// from it); nil stays nil (/dev/null). The same writer for both (==) gets
// one pipe as fd 1 and fd 2, as 2>&1 does (exec.Cmd passes one file for
// both when Stdout and Stderr are equal), so it sees what the command wrote
// to either in the order it was written.
func runOutputs(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	stdout, stderr = nilIfNilFile(stdout), nilIfNilFile(stderr)
	if stdout != nil && sameWriter(stdout, stderr) {
		w := hideFile(stdout)
		return w, w
	}
	return hideFile(stdout), hideFile(stderr)
}

// sameWriter is a == b, false (not a panic) for a type that cannot be
// compared.
func sameWriter(a, b io.Writer) bool {
	if a == nil || b == nil {
		return false
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

func nilIfNilFile(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && f == nil {
		return nil
	}
	return w
}

// hideFile wraps an *os.File, which exec.Cmd would give the command as it
// is, so that exec.Cmd makes a pipe and copies from it.
func hideFile(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		return &fileWriter{f: f}
	}
	return w
}

// fileWriter writes to a caller's file with write(2) itself: os.File.Write
// raises SIGPIPE for fds 1 and 2 when their reader is gone (strata run … |
// head), which would kill strata before it removed the container's mounts,
// cgroup and run directory. Here the copy ends with EPIPE instead, exec.Cmd
// closes the pipe, and the command gets its own SIGPIPE, as when it wrote to
// the file directly.
type fileWriter struct{ f *os.File }

func (w *fileWriter) Write(p []byte) (int, error) {
	rc, err := w.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, e := unix.Write(int(fd), p[n:])
			if m > 0 {
				n += m
			}
			switch {
			case errors.Is(e, unix.EINTR):
			case errors.Is(e, unix.EAGAIN):
				return false // a non-blocking file: wait until it takes more
			case e != nil:
				werr = &os.PathError{Op: "write", Path: w.f.Name(), Err: e}
				return true
			case m == 0:
				werr = io.ErrShortWrite
				return true
			}
		}
		return true
	})
	if werr == nil {
		werr = err
	}
	return n, werr
}

// ownStdio runs in the init while it is still root, before the user is
// taken: it gives the user the pipes among fds 0-2, as runc's
// fixStdioPermissions does (libcontainer/init_linux.go), so that a command
// that is not root can reopen its own stdio by name: `echo x >/dev/stderr`,
// /dev/stdout, /proc/self/fd/N, `exec 2>/dev/stderr`. A pipe's inode is made
// by the parent (root, mode 0600), and reopening through /proc checks it.
// Only the owner changes; the group stays root's, as runc leaves it (the mode
// gives the group nothing). /dev/null (0666) needs nothing, and the pty slave
// of a Tty run is chowned by setupConsole.
//
// What the owner may do with the pipe that it could not before gives the
// container nothing on the host:
//   - Only pipes of this run are chowned: Run never hands the init a file of
//     its caller (see runOutputs), and this skips everything but an anonymous
//     pipe (a FIFO on pipefs): a host file, a named FIFO, a terminal or a
//     socket keeps its owner.
//   - A pipe on pipefs has no path on the host. Its inode is reached only
//     through a descriptor, or through /proc/PID/fd of a process holding one,
//     which needs ptrace read access to that process: strata (root) or the
//     container's processes, which run as the same host uid anyway (no user
//     namespace), so that uid reaches their other files (/proc/PID/root, cwd,
//     fds) already.
//   - What reopening gives is this run's own data: the command's output,
//     which it wrote, and its stdin (reopening fd 1 for reading, or fd 0 for
//     writing, reaches the other end of the same pipe). chmod changes only who
//     may reopen it, still behind that ptrace check; pipefs has no xattrs.
//     The container's root could do all of it before (CAP_DAC_OVERRIDE,
//     CAP_FOWNER); the user now can too, as under runc, docker and BuildKit.
//   - The pipes end with the run: the parent closes its ends; the ownership
//     lasts nowhere.
func ownStdio(uid int) error {
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue // not open: nothing to give
			}
			return fmt.Errorf("fstat stdio fd %d: %w", fd, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO || int(st.Uid) == uid {
			continue
		}
		var fs unix.Statfs_t
		if err := unix.Fstatfs(fd, &fs); err != nil {
			return fmt.Errorf("fstatfs stdio fd %d: %w", fd, err)
		}
		if fs.Type != unix.PIPEFS_MAGIC {
			continue // a named FIFO of some filesystem: not ours to give
		}
		if err := unix.Fchown(fd, uid, -1); err != nil {
			return fmt.Errorf("give the stdio pipe (fd %d) to uid %d (fchown): %w", fd, uid, rootless.OwnerError(err, uid, -1))
		}
	}
	return nil
}
