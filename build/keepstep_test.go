package build

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
)

// TestKeepAsStepRunLineThroughShell: in a real busybox ash on a terminal,
// opened on a failed step, the prefilled failing command is run again
// (and fails), then a fix: the RUN line that keep-as-step suggests is the
// fix alone, not the failing command chained with &&.
func TestKeepAsStepRunLineThroughShell(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the shell runs in the sandbox (CI runs as root)")
	}
	tar := busyboxRootfs(t)
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\n"})
	if err := os.WriteFile(dir+"/rootfs.tar", tar, 0o644); err != nil {
		t.Fatal(err)
	}
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	base := snapshots(r)[1]
	master, term := openShellPty(t)

	be := snapshot.NewBackend(store, nil)
	sh, err := be.Shell(base, snapshot.ShellOptions{Failed: "mkdir /x/y"})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Discard()
	out := &screen{}
	sh.SetStdin(term)
	sh.SetStdout(out)
	sh.SetStderr(out)
	done := make(chan error, 1)
	go func() { done <- sh.Run() }()
	type step struct{ wait, typ string }
	for _, s := range []step{
		{"(strata)", ""},
		{"mkdir /x/y", "\r"}, // the prefilled failing command, run again
		{"No such file or directory", ""},
		{"(strata)", "mkdir -p /x && echo fixed\r"},
		{"fixed\r\n", ""},
		{"(strata)", "exit\r"},
	} {
		if !out.waitFor(s.wait, 20*time.Second) {
			master.WriteString("\x03exit\r")
			select {
			case <-done:
			case <-time.After(10 * time.Second):
			}
			t.Fatalf("no %q on the screen after 20s:\n%q", s.wait, out.String())
		}
		if s.typ != "" {
			master.WriteString(s.typ)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shell: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the shell did not exit:\n%s", out.String())
	}
	if got, want := sh.RunLine(), "RUN mkdir -p /x && echo fixed"; got != want {
		t.Errorf("RunLine = %q, want %q (commands %q)\nscreen:\n%s", got, want, sh.Commands(), out.String())
	}
	if cmds := strings.Join(sh.Commands(), "\n"); !strings.Contains(cmds, "mkdir /x/y    # left out of the RUN line: exit 1") {
		t.Errorf("the failed command is not shown as left out:\n%s", cmds)
	}
	kept, line, err := sh.Keep()
	if err != nil {
		t.Fatal(err)
	}
	if line != "RUN mkdir -p /x && echo fixed" {
		t.Errorf("Keep's line %q", line)
	}
	var found bool
	keptChanges := snapChanges(t, store, kept)
	for _, c := range keptChanges {
		found = found || strings.TrimPrefix(c.Path, "/") == "x"
	}
	if !found {
		t.Errorf("the kept step has no /x: %v", keptChanges)
	}
}

// openShellPty is a pty pair: the test types into master; term is the
// caller's terminal the shell is given.
func openShellPty(t *testing.T) (master, term *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("needs a pseudo-terminal: %v", err)
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
	unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	// Nothing reads the caller's side of the terminal: drain what is
	// echoed there so writes to it never block.
	go func() {
		b := make([]byte, 4096)
		for {
			if _, err := m.Read(b); err != nil {
				return
			}
		}
	}()
	return m, s
}

// screen collects a shell's output; waitFor waits for text after what an
// earlier waitFor matched.
type screen struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *screen) waitFor(text string, d time.Duration) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		s.mu.Lock()
		b := s.buf.String()
		if i := strings.Index(b[s.seen:], text); i >= 0 {
			s.seen += i + len(text)
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
