package main

// End-to-end tests of the TUI's debugger (issue 6) against the real
// binary in tmux: breakpoints and a shell in the snapshot, rebuild on
// save, a shell on a failed step, quitting a paused build. Each ends with
// nothing mounted under its --root and no strata process left.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/assets"
)

// debugSetup makes a store with a busybox base image (dbg-base:1, built
// from scratch + ADD rootfs.tar) and a context dir with df as its
// Dockerfile. It returns the root and the context.
func debugSetup(t *testing.T, df string) (root, ctx string) {
	t.Helper()
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "tmux")
	tmp := t.TempDir()
	root = filepath.Join(tmp, "root")
	base := filepath.Join(tmp, "base")
	ctx = filepath.Join(tmp, "ctx")
	for _, d := range []string{base, ctx} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := assets.WriteBusyboxRootfs(filepath.Join(base, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, "build", "--root", root, "-t", "dbg-base:1", base)
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, ctx
}

// startTUI runs strata's TUI in tmux with args; the exit code goes to a
// file, read by waitExit.
func startTUI(t *testing.T, w, h int, args ...string) (*tmuxSession, string) {
	t.Helper()
	exitFile := filepath.Join(t.TempDir(), "exit")
	cmd := strataBin + " " + strings.Join(args, " ") + "; echo $? > " + exitFile + "; sleep 120"
	return newTmux(t, w, h, cmd), exitFile
}

// waitExit waits for strata to exit and returns its exit code.
func waitExit(t *testing.T, s *tmuxSession, exitFile string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(exitFile); err == nil {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata did not exit; screen:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nothingLeft checks that no mount under root remains, no scratch dir is
// left and no strata process runs.
func nothingLeft(t *testing.T, root string) {
	t.Helper()
	checkClean(t, root)
	if pids := strataProcesses(t); len(pids) > 0 {
		t.Errorf("strata processes still running: %v", pids)
	}
}

// screenHasLine is true when some line of the screen is exactly want
// (spaces and pane borders trimmed), so typed text that contains it does
// not count.
func screenHasLine(scr, want string) bool {
	for _, l := range strings.Split(scr, "\n") {
		if strings.Trim(l, " │") == want {
			return true
		}
	}
	return false
}

// waitForLine polls the screen until a line is exactly want.
func (s *tmuxSession) waitForLine(want string, timeout time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := s.screen()
		if screenHasLine(scr, want) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed the line %q; last screen:\n%s", want, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDebugBreakShell (a): --break 3 stops before the step on line 3; s
// opens a shell on the state before it, where ls shows the files the step
// before made; exit comes back to the TUI, c continues to the end.
func TestDebugBreakShell(t *testing.T) {
	root, ctx := debugSetup(t, `FROM dbg-base:1
RUN mkdir /work && touch /work/alpha /work/beta
RUN ls /work > /listing
CMD ["cat", "/listing"]
`)
	s, exitFile := startTUI(t, 120, 36, "--root", root, "--break", "3", ctx)
	scr := s.waitFor("paused before [3/4] RUN ls /work > /listing (breakpoint, line 3)", 60*time.Second)
	if !strings.Contains(scr, "3●▶") {
		t.Errorf("no breakpoint and pause marks on line 3:\n%s", scr)
	}
	s.keys("s")
	s.waitFor("(strata) / #", 20*time.Second)
	s.keys("ls -1 /work", "Enter")
	s.waitForLine("alpha", 10*time.Second)
	scr = s.waitForLine("beta", 10*time.Second)
	if screenHasLine(scr, "listing") {
		t.Errorf("the shell sees the paused step's result already:\n%s", scr)
	}
	s.keys("exit", "Enter")
	s.waitFor("shell closed: it changed no file", 20*time.Second)
	s.keys("c")
	s.waitFor("build complete", 60*time.Second)
	s.keys("q")
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("strata exited %s", code)
	}
	nothingLeft(t, root)
}

// TestDebugRebuildOnSave (b): with the TUI open, a RUN line appended to
// the Dockerfile rebuilds: the earlier steps come from the cache, the new
// step appears and runs.
func TestDebugRebuildOnSave(t *testing.T) {
	root, ctx := debugSetup(t, `FROM dbg-base:1
RUN echo one > /one
CMD ["cat", "/one"]
`)
	s, exitFile := startTUI(t, 120, 36, "--root", root, ctx)
	s.waitFor("build complete", 60*time.Second)
	f, err := os.OpenFile(filepath.Join(ctx, "Dockerfile"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("RUN echo two > /two && cat /one /two\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s.waitFor("Steps 4/4 · build 2", 30*time.Second)
	scr := s.waitFor("cache 3/4", 60*time.Second)
	for _, want := range []string{"≡ [1/4] FROM dbg-base:1", "≡ [2/4] RUN echo one > /one", "≡ [3/4] CMD", "✓ [4/4] RUN echo two > /two"} {
		if !strings.Contains(scr, want) {
			t.Errorf("the rebuild's step tree lacks %q:\n%s", want, scr)
		}
	}
	// the new step ran: its output is in its log
	s.keys("G", "1")
	s.waitFor("cache miss", 10*time.Second)
	s.waitForLine("2 one", 10*time.Second)
	s.keys("q")
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("strata exited %s", code)
	}
	nothingLeft(t, root)
}

// TestDebugFailedShell (c): a RUN that fails; s opens a shell on the state
// before it, where the failed command can be run by hand and fails the
// same way; p opens the partial result it left.
func TestDebugFailedShell(t *testing.T) {
	root, ctx := debugSetup(t, `FROM dbg-base:1
RUN mkdir /work && echo hello > /work/data
RUN echo partial > /work/partial && cat /work/missing
CMD ["ls", "/work"]
`)
	s, exitFile := startTUI(t, 120, 40, "--root", root, ctx)
	s.waitFor("build failed", 60*time.Second)
	scr := s.waitFor("s opens a shell on the state before this step", 10*time.Second)
	if !strings.Contains(scr, "p opens a shell on what the failed command left") {
		t.Errorf("the failure does not offer the partial result:\n%s", scr)
	}
	s.keys("s")
	s.waitFor("the step that failed ran: echo partial > /work/partial && cat /work/missing", 20*time.Second)
	// the failed command is typed at the prompt, ready to run or edit
	s.waitFor("(strata) / # echo partial > /work/partial && cat /work/missing", 10*time.Second)
	s.keys("C-u")
	// the state before the step: the earlier step's file, no partial file yet
	s.keys(`test -e /work/data && test ! -e /work/partial && echo "BEFORE$((2+3))"`, "Enter")
	s.waitForLine("BEFORE5", 10*time.Second)
	// the failed command, by hand: it fails the same way
	s.keys(`echo partial > /work/partial && cat /work/missing; echo "rc=$?"`, "Enter")
	s.waitFor("can't open '/work/missing': No such file or directory", 10*time.Second)
	s.waitForLine("rc=1", 10*time.Second)
	s.keys("exit", "Enter")
	s.waitFor("keep the shell's changes as a step? y/N", 20*time.Second)
	// what was typed is the RUN line that would redo it
	s.waitFor("RUN test -e /work/data && test ! -e", 10*time.Second)
	s.keys("n")
	s.waitFor("the shell's changes were thrown away", 10*time.Second)
	// the partial result of the failed command
	s.keys("p")
	s.waitFor("(strata) / #", 20*time.Second)
	s.keys(`test -e /work/partial && echo "PARTIAL$((3+4))"`, "Enter")
	s.waitForLine("PARTIAL7", 10*time.Second)
	s.keys("exit", "Enter")
	s.waitFor("shell closed: it changed no file", 20*time.Second)
	s.keys("q")
	if code := waitExit(t, s, exitFile); code != "1" {
		t.Errorf("strata exited %s after a failed build, want 1", code)
	}
	nothingLeft(t, root)
}

// TestDebugQuitWhilePaused: q while the build is paused (--step) ends the
// build and strata; nothing is left behind.
func TestDebugQuitWhilePaused(t *testing.T) {
	root, ctx := debugSetup(t, `FROM dbg-base:1
RUN echo one > /one
RUN echo two > /two
`)
	s, exitFile := startTUI(t, 100, 30, "--root", root, "--step", ctx)
	s.waitFor("paused before [1/3] FROM dbg-base:1 (stepping)", 60*time.Second)
	s.keys("n")
	s.waitFor("paused before [2/3] RUN echo one", 30*time.Second)
	s.keys("n")
	s.waitFor("paused before [3/3] RUN echo two", 30*time.Second)
	s.keys("q")
	code := waitExit(t, s, exitFile)
	if code != "1" {
		t.Errorf("strata exited %s after quitting a paused build, want 1 (the build did not finish)", code)
	}
	nothingLeft(t, root)
}

// TestDebugFlagsNeedTTY: without a terminal the debugger's flags are an
// error that names the flag.
func TestDebugFlagsNeedTTY(t *testing.T) {
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nENV A=1\n"), 0o644)
	root := filepath.Join(t.TempDir(), "root")
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--step", []string{"build", "--root", root, "--step", ctx}},
		{"--break", []string{"--root", root, "--break", "2", ctx}},
		{"--debug-shell", []string{"build", "--root", root, "--debug-shell", "/bin/busybox", ctx}},
	} {
		out, err := strata(t, c.args...)
		if err == nil || !strings.Contains(out, c.flag+" needs the TUI") {
			t.Errorf("strata %s: err %v, output %q; want an error naming %s", strings.Join(c.args, " "), err, out, c.flag)
		}
	}
}

// TestDebugRunStopQA: x on an image whose command never ends (a server),
// then x again, stops it and the TUI stays; its process is gone. Before,
// only quitting strata stopped it.
func TestDebugRunStopQA(t *testing.T) {
	root, ctx := debugSetup(t, `FROM dbg-base:1
CMD ["sh", "-c", "while true; do echo qa-forever-tick; sleep 1; done"]
`)
	s, exitFile := startTUI(t, 100, 30, "--root", root, ctx)
	s.waitFor("build complete", 60*time.Second)
	s.keys("x")
	s.waitForLine("2 qa-forever-tick", 30*time.Second)
	s.keys("x")
	s.waitFor("the image's command was stopped", 20*time.Second)
	if pids := processesWith(t, "qa-forever-tick"); len(pids) > 0 {
		t.Errorf("the stopped command still runs: %v", pids)
	}
	s.keys("q")
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("strata exited %s", code)
	}
	nothingLeft(t, root)
}

// processesWith lists the processes whose command line contains s.
func processesWith(t *testing.T, s string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
