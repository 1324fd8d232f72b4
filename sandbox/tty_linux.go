package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ttyIO is the parent's side of the container's pseudo-terminal. Like runc's
// console socket: the init opens the pty in the container's own devpts (so
// the slave is /dev/pts/N there and ttyname(3) works), makes the slave its
// controlling terminal and stdio, and sends the master over a socketpair.
type ttyIO struct {
	sock   *os.File // parent's end of the console socket
	master *os.File // received from the init (receive); nil before
	stdin  io.Reader
	stdout io.Writer
	// prefill is typed into the terminal once the command has written
	// and reads its line (out of canonical mode, see waitRaw), as if the
	// user had typed it (Spec.Prefill).
	prefill string

	restore   func()
	winch     chan os.Signal
	winchDone chan struct{} // closed when the SIGWINCH goroutine is done with master
	inDone    chan struct{} // closed when the stdin copy is done with stdin and master
	outDone   chan struct{}
	stopOnce  sync.Once
	started   bool
}

// newTTY creates the console socket; child is the init's end (consoleFD).
func newTTY() (t *ttyIO, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: console socketpair: %w", err)
	}
	return &ttyIO{
		sock:    os.NewFile(uintptr(fds[0]), "console-socket"),
		outDone: make(chan struct{}),
		restore: func() {},
	}, os.NewFile(uintptr(fds[1]), "console-socket-init"), nil
}

// receive takes the pty master the init sent (before its Ready message) and
// gives the terminal the caller's size, before the command starts.
func (t *ttyIO) receive() error {
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, flags, _, err := unix.Recvmsg(int(t.sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return fmt.Errorf("sandbox: receive pty master from container init: %w", err)
	}
	if flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0 {
		return errors.New("sandbox: receive pty master from container init: message truncated")
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return fmt.Errorf("sandbox: receive pty master from container init: %w", err)
	}
	var fds []int
	for _, m := range cmsgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fmt.Errorf("sandbox: receive pty master from container init: %w", err)
		}
		fds = append(fds, got...)
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return fmt.Errorf("sandbox: receive pty master from container init: got %d file descriptors, want 1", len(fds))
	}
	t.master = os.NewFile(uintptr(fds[0]), "pty-master "+string(buf[:n]))
	if fd, ok := t.terminal(); ok {
		t.resize(fd)
	}
	return nil
}

// terminal is the caller's terminal whose size the container gets: stdin,
// else stdout.
func (t *ttyIO) terminal() (fd int, isStdin bool) {
	if f, ok := t.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return int(f.Fd()), true
	}
	if f, ok := t.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return int(f.Fd()), false
	}
	return -1, false
}

// start puts the caller's terminal in raw mode, forwards its size and
// copies input and output.
func (t *ttyIO) start(stop <-chan struct{}) {
	if t.master == nil {
		return
	}
	t.started = true
	if fd, isStdin := t.terminal(); isStdin {
		if st, err := term.MakeRaw(fd); err == nil {
			t.restore = func() { _ = term.Restore(fd, st) }
		}
		t.resize(fd)
		t.winch = make(chan os.Signal, 1)
		t.winchDone = make(chan struct{})
		signal.Notify(t.winch, syscall.SIGWINCH)
		go func(ch chan os.Signal) {
			defer close(t.winchDone)
			for range ch {
				t.resize(fd)
			}
		}(t.winch)
	} else if fd >= 0 {
		t.resize(fd)
	}
	go func() {
		defer close(t.outDone)
		if t.stdout == nil {
			_, _ = io.Copy(io.Discard, t.master)
			return
		}
		// Reading the master fails with EIO once every slave fd is closed.
		var err error
		if t.prefill != "" {
			buf := make([]byte, 32<<10)
			n, rerr := t.master.Read(buf)
			if n > 0 {
				t.stdout.Write(buf[:n])
				// typed when the shell reads its line, while the output
				// goes on; done before the master may be closed
				copied, typed := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(typed)
					if t.waitRaw(copied, prefillWait) {
						t.master.Write([]byte(t.prefill))
					}
				}()
				defer func() { close(copied); <-typed }()
			}
			err = rerr
		}
		if err == nil {
			_, err = io.Copy(t.stdout, t.master)
		}
		var pe *os.PathError
		if err != nil && !(errors.As(err, &pe) && errors.Is(pe.Err, unix.EIO)) {
			return
		}
	}()
	if t.stdin != nil {
		t.inDone = make(chan struct{})
		go func() {
			defer close(t.inDone)
			copyUntil(t.master, t.stdin, stop)
		}()
	}
}

// prefillWait bounds the wait for the command to leave canonical mode
// before the prefill is typed anyway (a command that reads cooked lines).
const prefillWait = time.Second

// waitRaw waits until the command has taken the terminal out of canonical
// mode (ICANON cleared: a shell's line editor reading its line), at most
// limit, and reports whether the prefill should still be typed (false once
// done is closed: the output ended). Typed earlier, in cooked mode, the
// terminal itself would echo it before the shell's banner and the line
// editor again at the prompt. TCGETS on a pty master reads the slave's
// termios.
func (t *ttyIO) waitRaw(done <-chan struct{}, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		st, err := unix.IoctlGetTermios(int(t.master.Fd()), unix.TCGETS)
		if err != nil || st.Lflag&unix.ICANON == 0 || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-done:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (t *ttyIO) resize(from int) {
	ws, err := unix.IoctlGetWinsize(from, unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
}

// finish waits for the output (all of it: the namespace is dead, so every
// slave fd is closed) and restores the terminal. stop (given to start) must
// be closed: finish also waits for the goroutines that use the caller's stdin
// and the master, so that neither is used after Run returns (the caller may
// close its stdin; close closes the master).
func (t *ttyIO) finish() {
	t.stopOnce.Do(func() {
		if t.winch != nil {
			signal.Stop(t.winch)
			close(t.winch)
			<-t.winchDone
		}
		if t.started {
			<-t.outDone
		}
		if t.inDone != nil {
			<-t.inDone // copyUntil sees stop within its poll interval
		}
		t.restore()
	})
}

func (t *ttyIO) close() {
	t.sock.Close()
	if t.master != nil {
		t.master.Close()
	}
}

// setupConsole runs in the init, after pivot_root and while still root: it
// opens a pty in the container's devpts (/dev/ptmx -> pts/ptmx), gives the
// slave to uid (the group stays the mount's gid=5, "tty", like runc), binds
// it on /dev/console, sends the master to the parent over sock, and makes the
// slave stdin, stdout, stderr and the controlling terminal of this session
// leader (the init is started with setsid).
func setupConsole(sock, uid int) error {
	defer unix.Close(sock)
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open pty master", Path: "/dev/ptmx", Err: err}
	}
	defer unix.Close(mfd)
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty (TIOCSPTLCK on /dev/ptmx): %w", err)
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number (TIOCGPTN on /dev/ptmx): %w", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	// TIOCGPTPEER opens exactly this master's peer; by name on old kernels.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	sfd := int(r)
	if errno != 0 {
		if sfd, err = unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err != nil {
			return &os.PathError{Op: "open pty slave", Path: name, Err: err}
		}
	}
	defer unix.Close(sfd)
	if err := unix.Fchown(sfd, uid, -1); err != nil {
		return &os.PathError{Op: fmt.Sprintf("chown to uid %d", uid), Path: name, Err: err}
	}
	fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: "/dev/console", Err: err}
	}
	unix.Close(fd)
	if err := unix.Mount(name, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return &MountError{Op: "mount", Source: name, Target: "/dev/console", Flags: unix.MS_BIND, Err: err}
	}
	if err := unix.Sendmsg(sock, []byte(name), unix.UnixRights(mfd), nil, 0); err != nil {
		return fmt.Errorf("send pty master to the parent: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(sfd, i, 0); err != nil {
			return fmt.Errorf("dup %s to fd %d: %w", name, i, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make %s the controlling terminal (TIOCSCTTY): %w", name, err)
	}
	return nil
}
