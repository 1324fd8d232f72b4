package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tmuxSeq numbers the tmux sessions of this test process.
var tmuxSeq atomic.Int64

// tmuxSession drives the real binary in a tmux terminal.
type tmuxSession struct {
	t    *testing.T
	name string
}

func newTmux(t *testing.T, w, h int, command string) *tmuxSession {
	t.Helper()
	requireTool(t, "tmux")
	// The name must be unique on the machine's tmux server: t.TempDir()'s
	// base is only a per-test sequence number ("003"), the same in every
	// test and in every other `go test` process using the server.
	s := &tmuxSession{t: t, name: "strata-e2e-" + fmtInt(os.Getpid()) + "-" + fmtInt(int(tmuxSeq.Add(1)))}
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
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("strata exited %s", code)
	}
	checkClean(t, root)
}

// TestTUIInspect builds the example with -t, then runs `strata inspect`
// on it in tmux as a user would: the history shows the Dockerfile's
// instructions, the user moves to the RUN layer, reads what made it,
// opens Files, sees the file the RUN wrote, opens it and quits. Without a
// terminal the same command prints a table.
func TestTUIInspect(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "tmux")
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	ctx := filepath.Join(tmp, "ctx")
	if err := prepareExample(ctx); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, "build", "--root", root, "-t", "insp:1", ctx)

	table := mustStrata(t, "inspect", "--root", root, "--no-trunc", "insp:1")
	for _, want := range []string{"4 layers, 9 history entries", `RUN mkdir -p /srv/data && echo "$GREETING" > /srv/data/motd && chmod 0644 /srv/data/motd`, "CMD [\"/bin/sh\" \"/srv/app/server.sh\"]"} {
		if !strings.Contains(table, want) {
			t.Errorf("inspect table lacks %q:\n%s", want, table)
		}
	}

	exitFile := filepath.Join(tmp, "exit")
	cmd := strataBin + " inspect --root " + root + " insp:1; echo $? > " + exitFile + "; sleep 60"
	s := newTmux(t, 120, 36, cmd)
	s.waitFor("largest layers", 30*time.Second)
	scr := s.waitFor("History", 5*time.Second)
	if !strings.Contains(scr, "ADD rootfs.tar /") || !strings.Contains(scr, "Layers 4") {
		t.Errorf("the history or the layer count is missing:\n%s", scr)
	}
	// The layer list has the focus on the first entry: ADD, ENV, WORKDIR,
	// COPY, then the RUN.
	s.keys("g", "j", "j", "j", "j", "2")
	s.waitFor("layer made by: RUN /bin/sh -c mkdir -p /srv/data", 10*time.Second)
	s.keys("3") // Files tab: srv/ ▸ data/ ▸ motd
	scr = s.waitFor("motd", 10*time.Second)
	if !strings.Contains(scr, "this layer: +2 ~1") {
		t.Errorf("Files tab does not show the RUN layer's changes:\n%s", scr)
	}
	s.keys("j", "j", "Enter")
	s.waitFor("hello from strata", 10*time.Second)
	s.keys("q")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if b, err := os.ReadFile(exitFile); err == nil {
			if strings.TrimSpace(string(b)) != "0" {
				t.Errorf("strata inspect exited %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata inspect did not exit after q; screen:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if pids := strataProcesses(t); len(pids) > 0 {
		t.Errorf("strata processes still running after q: %v", pids)
	}
	checkClean(t, root)
}

// strataProcesses lists running processes of the binary under test.
func strataProcesses(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if argv0, _, _ := strings.Cut(string(b), "\x00"); argv0 == strataBin {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
