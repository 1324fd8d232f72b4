package sandbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openTestPty opens a pty pair on the host for the test to use as the
// caller's terminal, with the given size.
func openTestPty(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("needs a pseudo-terminal for the caller's side: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// watchWriter collects output and closes seen once it contains want.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestTtyInContainer: with Tty the command's terminal is a pty of the
// container's own devpts: tty(1) names it, it is the controlling terminal,
// owned by the user, bound on /dev/console, and has the caller's size, which
// follows the caller's terminal when it is resized.
func TestTtyInContainer(t *testing.T) {
	lower := busyboxRootfs(t)
	ptyMaster, callerTerm := openTestPty(t, 33, 97)
	script := `
tty
test -t 0 && test -t 1 && test -t 2 && echo stdio-is-tty
echo size: $(stty size)
echo owner: $(stat -c '%u:%g %a' "$(tty)")
test -c /dev/console && echo console: $(stat -c '%t:%T' /dev/console) $(stat -c '%t:%T' "$(tty)")
echo ctty > /dev/tty
trap 'echo got-winch' WINCH
echo ready
i=0
while [ "$(stty size)" = "33 97" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
echo resized: $(stty size)
`
	spec := newSpec(t, lower, "sh", "-c", script)
	spec.Tty = true
	spec.User = "app"
	spec.Stdin = callerTerm
	out := &watchWriter{want: "ready\r\n", seen: make(chan struct{})}
	seen := out.seen

	fdsBefore := openFDs(t)
	type runResult struct {
		code int
		err  error
	}
	done := make(chan runResult, 1)
	go func() {
		code, err := Run(context.Background(), spec, out, nil)
		done <- runResult{code, err}
	}()
	var res runResult
	select {
	case <-seen:
		// What a terminal emulator does: resize the terminal, signal its
		// foreground process (here, the test itself runs Run).
		if err := unix.IoctlSetWinsize(int(ptyMaster.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
			t.Fatal(err)
		}
		res = <-done
	case res = <-done:
		t.Fatalf("the command ended before it was ready: %d, %v\noutput: %q", res.code, res.err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no \"ready\" after 30s; output so far: %q", out.String())
	}
	checkNoLeftovers(t, spec)
	if res.err != nil || res.code != 0 {
		t.Fatalf("Run = %d, %v\noutput: %q", res.code, res.err, out.String())
	}
	got := strings.ReplaceAll(out.String(), "\r", "")
	lines := strings.Split(got, "\n")
	if !strings.HasPrefix(lines[0], "/dev/pts/") || lines[0] == "/dev/pts/ptmx" {
		t.Errorf("tty printed %q, want /dev/pts/N\noutput: %q", lines[0], got)
	}
	for _, want := range []string{
		"stdio-is-tty\n",
		"size: 33 97\n",
		"owner: 1000:5 620\n", // the user's, group tty (devpts gid=5), like docker
		"ctty\n",
		"got-winch\n",
		"resized: 40 120\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q\noutput: %q", want, got)
		}
	}
	// /dev/console is the same device as the tty.
	var consoleDev, ttyDev string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "console:" {
			consoleDev, ttyDev = f[1], f[2]
		}
	}
	if consoleDev == "" || consoleDev != ttyDev {
		t.Errorf("/dev/console is %q, the tty %q: want the same device\noutput: %q", consoleDev, ttyDev, got)
	}
	// The caller's terminal is back in its own mode, and Run kept no fd.
	if st, err := unix.IoctlGetTermios(int(callerTerm.Fd()), unix.TCGETS); err != nil || st.Lflag&unix.ICANON == 0 {
		t.Errorf("caller's terminal not restored (ICANON off): %v", err)
	}
	if n := openFDs(t); n != fdsBefore {
		t.Errorf("open fds: %d before Run, %d after", fdsBefore, n)
	}
	if e := upperEntries(t, spec.Upper); len(e) != 0 {
		t.Errorf("upper after the run = %v, want empty", e)
	}
}

// TestTtyPrefill: Prefill is typed after the first output, as if the user
// had typed it, and the terminal echoes it.
func TestTtyPrefill(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", `printf 'prompt> '; read x; echo "got:$x"`)
	spec.Tty = true
	spec.Prefill = "hello world\n"
	r := mustRun(t, spec)
	out := strings.ReplaceAll(r.stdout, "\r", "")
	if want := "prompt> hello world\ngot:hello world\n"; out != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}

// TestTtyCommandNotFound: the init has sent the pty master when the command
// lookup fails; Run still reports the ExecError and keeps no fd.
func TestTtyCommandNotFound(t *testing.T) {
	lower := busyboxRootfs(t)
	for _, args := range [][]string{{"no-such-command"}, {"/no/such/file"}} {
		spec := newSpec(t, lower, args...)
		spec.Tty = true
		before := openFDs(t)
		r := run(t, spec)
		var execErr *ExecError
		if r.code != 127 || !errors.As(r.err, &execErr) {
			t.Errorf("Run(%q) = %d, %v; want 127 and an ExecError", args, r.code, r.err)
		}
		if n := openFDs(t); n != before {
			t.Errorf("Run(%q): open fds: %d before, %d after", args, before, n)
		}
	}
}
