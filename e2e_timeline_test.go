package main

import (
	"strings"
	"testing"
	"time"
)

// TestTUITimeline: on a real build, T opens the timeline; the user moves
// to the RUN, enters its processes, finds the 50 short /bin/true grouped
// into one bar, opens its details, goes back, closes the timeline and quits.
func TestTUITimeline(t *testing.T) {
	for _, sz := range tourSizes {
		t.Run(itoa(sz[0])+"x"+itoa(sz[1]), func(t *testing.T) {
			root, ctx := debugSetup(t, "FROM dbg-base:1\nRUN sh -c 'sleep 0.3; for i in $(seq 50); do /bin/true; done'\n")
			s, exitFile := startTUI(t, sz[0], sz[1], "--root", root, ctx)
			s.waitFor("build complete", 60*time.Second)
			s.keys("T")
			s.waitFor("Timeline · 2 steps", 10*time.Second)
			s.keys("j")
			s.waitFor("enter: its 53 processes", 10*time.Second)
			s.keys("Enter")
			scr := s.waitFor("Step 2 processes", 10*time.Second)
			for _, want := range []string{"sleep 0.3", "true ×50"} {
				if !strings.Contains(scr, want) {
					t.Errorf("the RUN's processes lack %q:\n%s", want, scr)
				}
			}
			// Down the tree to the group (under the shell form's /bin/sh
			// and its exec of sh -c).
			for i := 0; i < 8 && !strings.Contains(s.screen(), "50 processes, "); i++ {
				s.keys("j")
			}
			s.waitFor("50 processes, ", 10*time.Second)
			s.keys("Escape")
			s.waitFor("Timeline · 2 steps", 10*time.Second)
			s.keys("T")
			s.keys("q")
			if code := waitExit(t, s, exitFile); code != "0" {
				t.Errorf("strata exited %s", code)
			}
			nothingLeft(t, root)
		})
	}
}
