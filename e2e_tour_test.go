package main

// A newcomer's tour of the TUI against the real binary in tmux, at 80×24
// and 200×50 (issue 12): build the example, visit every tab, ?, the Files
// tab's modes, the final image id against `strata build`'s, a failed step
// and its note, a shell on it kept as a step, and a run stopped with x.
// The assertions are on facts shown on screen.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var tourSizes = [][2]int{{80, 24}, {200, 50}}

// TestTourExample: the example, every tab, ?, /tmp's mode and the image id.
func TestTourExample(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "tmux")
	for _, sz := range tourSizes {
		t.Run(itoa(sz[0])+"x"+itoa(sz[1]), func(t *testing.T) {
			tmp := t.TempDir()
			root, ctx := filepath.Join(tmp, "root"), filepath.Join(tmp, "ctx")
			s, exitFile := startTUI(t, sz[0], sz[1], "example", "--root", root, "--dir", ctx)
			scr := s.waitFor("build complete", 90*time.Second)
			df, err := os.ReadFile(filepath.Join(ctx, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			// no pane cut while another has room: at 200 columns every
			// Dockerfile line shown is whole; at 80 every one that fits in
			// half the screen
			limit := 1000
			if sz[0] < 120 {
				limit = sz[0]/2 - 8
			}
			for _, l := range strings.Split(strings.TrimSpace(string(df)), "\n") {
				if l = strings.TrimRight(l, " "); len(l) >= 12 && len(l) <= limit && !strings.HasPrefix(l, "#") && tourOnScreen(scr, l[:12]) && !tourOnScreen(scr, l) {
					t.Errorf("the Dockerfile line %q is not whole on the %dx%d screen:\n%s", l, sz[0], sz[1], scr)
				}
			}
			header := regexp.MustCompile(`✓ (sha256:[0-9a-f]{12})`).FindStringSubmatch(scr)
			if header == nil {
				t.Fatalf("no image id in the header:\n%s", scr)
			}
			// every tab; a number key moves the focus to the lower pane (▸)
			for k := 1; k <= 8; k++ {
				s.keys(itoa(k))
				time.Sleep(200 * time.Millisecond)
				if scr := s.screen(); !strings.Contains(scr, "─ ▸ ") || strings.Contains(scr, "panic") {
					t.Errorf("tab %d: the lower pane is not marked focused:\n%s", k, scr)
				}
			}
			// Files: the whole filesystem of the last step; /tmp is sticky
			s.keys("3", "w", "/")
			s.keys("t", "m", "p", "Enter")
			scr = s.waitFor("drwxrwxrwt", 20*time.Second)
			if strings.Contains(scr, "drwxrwxrwx") {
				t.Errorf("a mode without its sticky bit is shown:\n%s", scr)
			}
			s.keys("Escape")
			// ?: every key, grouped, and the symbols
			s.keys("?")
			scr = s.waitFor("Keys and symbols", 10*time.Second)
			for _, want := range []string{"Everywhere", "pick a tab below"} {
				if !strings.Contains(scr, want) {
					t.Errorf("? lacks %q:\n%s", want, scr)
				}
			}
			for i := 0; i < 8; i++ {
				s.keys("PgDn")
			}
			s.waitFor("the selected step", 10*time.Second) // the legend's last row
			s.keys("Escape")
			s.keys("q")
			if code := waitExit(t, s, exitFile); code != "0" {
				t.Errorf("strata exited %s", code)
			}
			// the same context built without the TUI names the same image
			out := mustStrata(t, "build", "--root", root, ctx)
			plain := regexp.MustCompile(`Successfully built ([0-9a-f]{12})`).FindStringSubmatch(out)
			if plain == nil {
				t.Fatalf("no image id in the plain output:\n%s", out)
			}
			if header[1] != "sha256:"+plain[1] {
				t.Errorf("the TUI's image %s is not strata build's %s", header[1], plain[1])
			}
			nothingLeft(t, root)
		})
	}
}

// TestTourFailedShellKeepStop: a failed step's note, a shell on it kept as
// a step, then an image whose command runs until x stops it.
func TestTourFailedShellKeepStop(t *testing.T) {
	for _, sz := range tourSizes {
		t.Run(itoa(sz[0])+"x"+itoa(sz[1]), func(t *testing.T) {
			root, ctx := debugSetup(t, `FROM dbg-base:1
RUN mkdir /work
RUN echo building && ls /nonexistent
`)
			s, exitFile := startTUI(t, sz[0], sz[1], "--root", root, ctx)
			s.waitFor("build failed", 60*time.Second)
			// the note is the error, not the command again
			scr := s.waitFor("exit code 1: ls:", 10*time.Second)
			if strings.Contains(scr, `process "/bin/sh -c`) {
				t.Errorf("a pane repeats the failed command instead of the error:\n%s", scr)
			}
			s.keys("s")
			s.waitFor("(strata) / #", 30*time.Second)
			s.keys("C-u", "mkdir -p /x && echo fixed", "Enter")
			s.waitForLine("fixed", 10*time.Second)
			s.keys("exit", "Enter")
			s.waitFor("keep the shell's changes as a step?", 20*time.Second)
			s.keys("y")
			scr = s.waitFor("RUN mkdir -p /x", 20*time.Second)
			if strings.Contains(scr, "ls /nonexistent &&") {
				t.Errorf("the kept RUN line chains the failing command:\n%s", scr)
			}
			s.keys("q")
			waitExit(t, s, exitFile)
			nothingLeft(t, root)

			// x on a command that never ends, x again stops it
			if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM dbg-base:1\nCMD [\"sh\", \"-c\", \"while true; do echo tour-tick; sleep 1; done\"]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s, exitFile = startTUI(t, sz[0], sz[1], "--root", root, ctx)
			s.waitFor("build complete", 60*time.Second)
			s.keys("x")
			s.waitFor("tour-tick", 30*time.Second)
			s.keys("x")
			scr = s.waitFor("stopped", 20*time.Second)
			if strings.Contains(scr, "✓ run") || strings.Contains(scr, "exit 0") {
				t.Errorf("a stopped run is shown as a success:\n%s", scr)
			}
			s.keys("q")
			if code := waitExit(t, s, exitFile); code != "0" {
				t.Errorf("strata exited %s", code)
			}
			nothingLeft(t, root)
		})
	}
}

// tourOnScreen is true when some screen row holds want whole.
func tourOnScreen(scr, want string) bool {
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}
