package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ttyIO is a pseudo-terminal allocated on the host (/dev/ptmx); the slave
// becomes the command's controlling terminal and stdio.
type ttyIO struct {
	master, slave *os.File
	stdin         io.Reader
	stdout        io.Writer
	// prefill is typed into the terminal once the command first writes
	// (its prompt), as if the user had typed it (Spec.Prefill).
	prefill string

	restore  func()
	winch    chan os.Signal
	outDone  chan struct{}
	stopOnce sync.Once
	started  bool
}

func openTTY() (*ttyIO, error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, fmt.Errorf("sandbox: unlock pty: %w", err)
	}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	sfd := int(r)
	if errno != 0 {
		err = errno
		// Older kernels: open the slave by name.
		n, nerr := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
		if nerr != nil {
			unix.Close(mfd)
			return nil, fmt.Errorf("sandbox: pty peer: %w", err)
		}
		sfd, err = unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(mfd)
			return nil, fmt.Errorf("sandbox: open pty slave: %w", err)
		}
	}
	unix.CloseOnExec(sfd)
	return &ttyIO{
		master:  os.NewFile(uintptr(mfd), "pty-master"),
		slave:   os.NewFile(uintptr(sfd), "pty-slave"),
		outDone: make(chan struct{}),
		restore: func() {},
	}, nil
}

// start puts the caller's terminal in raw mode, forwards its size and
// copies input and output.
func (t *ttyIO) start(stop <-chan struct{}) {
	t.started = true
	if f, ok := t.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		if st, err := term.MakeRaw(fd); err == nil {
			t.restore = func() { _ = term.Restore(fd, st) }
		}
		t.resize(fd)
		t.winch = make(chan os.Signal, 1)
		signal.Notify(t.winch, syscall.SIGWINCH)
		go func(ch chan os.Signal) {
			for range ch {
				t.resize(fd)
			}
		}(t.winch)
	} else if f, ok := t.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		t.resize(int(f.Fd()))
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
				t.master.Write([]byte(t.prefill))
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
		go copyUntil(t.master, t.stdin, stop)
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
// slave fd is closed) and restores the terminal.
func (t *ttyIO) finish() {
	t.stopOnce.Do(func() {
		if t.winch != nil {
			signal.Stop(t.winch)
			close(t.winch)
		}
		if t.started {
			<-t.outDone
		}
		t.restore()
	})
}

func (t *ttyIO) close() {
	if t.slave != nil {
		t.slave.Close()
	}
	t.master.Close()
}
