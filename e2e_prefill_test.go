package main

import (
	"strings"
	"testing"
	"time"
)

// TestDebugShellPrefillOnce: the failed command typed into a failed
// step's shell shows once, at the prompt: not echoed by the terminal above
// the shell's banner too (it was typed while the terminal was cooked).
func TestDebugShellPrefillOnce(t *testing.T) {
	const cmd = "echo partial > /work/partial && cat /work/missing"
	root, ctx := debugSetup(t, "FROM dbg-base:1\nRUN mkdir /work\nRUN "+cmd+"\n")
	s, exitFile := startTUI(t, 120, 40, "--root", root, ctx)
	s.waitFor("s opens a shell on the state before this step", 60*time.Second)
	s.keys("s")
	s.waitFor("(strata) / # "+cmd, 20*time.Second)
	time.Sleep(300 * time.Millisecond) // anything echoed late shows too
	scr := s.screen()
	// before the shell's own banner only strata's lines name it (the
	// title, "the step that failed ran: …"), then once at the prompt
	before, after, ok := strings.Cut(scr, "BusyBox v")
	if !ok {
		t.Fatalf("no shell banner:\n%s", scr)
	}
	if n := strings.Count(before, cmd) - strings.Count(before, "RUN "+cmd) - strings.Count(before, "failed ran: "+cmd); n != 0 {
		t.Errorf("the failed command is echoed %d times above the shell's banner:\n%s", n, scr)
	}
	if n := strings.Count(after, cmd); n != 1 {
		t.Errorf("the failed command shows %d times after the banner, want once (at the prompt):\n%s", n, scr)
	}
	s.keys("C-u", "exit", "Enter")
	s.waitFor("shell closed: it changed no file", 20*time.Second)
	s.keys("q")
	if code := waitExit(t, s, exitFile); code != "1" {
		t.Errorf("strata exited %s after a failed build, want 1", code)
	}
	nothingLeft(t, root)
}
