package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxSession drives the real binary in a tmux terminal.
type tmuxSession struct {
	t    *testing.T
	name string
}

func newTmux(t *testing.T, w, h int, command string) *tmuxSession {
	t.Helper()
	requireTool(t, "tmux")
	s := &tmuxSession{t: t, name: "strata-e2e-" + filepath.Base(t.TempDir())}
	cmd := exec.Command("tmux", "new-session", "-d", "-s", s.name, "-x", itoa(w), "-y", itoa(h), command)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", s.name).Run() })
	return s
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func (s *tmuxSession) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", s.name).Output()
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	for _, k := range keys {
		exec.Command("tmux", "send-keys", "-t", s.name, k).Run()
		time.Sleep(150 * time.Millisecond) // let the program read one key at a time
	}
}

// waitFor polls the screen until it contains want.
func (s *tmuxSession) waitFor(want string, timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := s.screen()
		if strings.Contains(scr, want) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q; last screen:\n%s", want, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTUIExample runs `strata example` in tmux as a user would: the build
// finishes, the user selects the RUN step, opens Files, sees the file that
// step added, opens it, and quits. Nothing of the build remains.
func TestTUIExample(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	exitFile := filepath.Join(tmp, "exit")
	cmd := strataBin + " example --root " + root + " --dir " + filepath.Join(tmp, "ctx") + "; echo $? > " + exitFile + "; sleep 60"
	s := newTmux(t, 120, 36, cmd)
	s.waitFor("build complete", 60*time.Second)
	// Select the RUN step in the step tree (focused at start): go to the
	// top, then down to step 6 (FROM is 1).
	s.keys("g")
	for i := 0; i < 5; i++ {
		s.keys("j")
	}
	scr := s.waitFor("[6/10] RUN", 5*time.Second)
	_ = scr
	s.keys("3") // Files tab
	scr = s.waitFor("motd", 10*time.Second)
	if !strings.Contains(scr, "data") {
		t.Errorf("Files tab does not show the RUN step's directory:\n%s", scr)
	}
	// The Files tab has the focus: srv/ ▸ data/ ▸ motd; open motd.
	s.keys("j", "j", "Enter")
	s.waitFor("hello from strata", 10*time.Second)
	s.keys("q")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if b, err := os.ReadFile(exitFile); err == nil {
			if strings.TrimSpace(string(b)) != "0" {
				t.Errorf("strata exited %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata did not exit after q; screen:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkClean(t, root)
}
