package main

import (
	"strings"
	"testing"
	"time"
)

// TestTUISkippedStages: the real binary, --target app: the stage no stage
// reads and the stage after the target are shown as skipped, with why, in
// the Steps pane and in the Dockerfile pane (– in the gutter), at 80×24
// and 200×50; the plain output says nothing of them, as docker build.
func TestTUISkippedStages(t *testing.T) {
	root, ctx := debugSetup(t, `FROM dbg-base:1 AS base
RUN echo base
FROM dbg-base:1 AS lint
RUN echo lint
FROM base AS app
CMD ["sh"]
FROM app AS test
RUN echo test
`)
	for _, sz := range [][2]int{{200, 50}, {80, 24}} {
		s, exitFile := startTUI(t, sz[0], sz[1], "--root", root, "--target", "app", ctx)
		scr := s.waitFor("build complete", 60*time.Second)
		for _, want := range []string{"lint", "skipped: no stage depends on it", "test skipped: not needed for --target app"} {
			if sz[0] == 200 && want == "test skipped: not needed for --target app" {
				want = "· test  skipped: not needed for --target app"
			}
			if !strings.Contains(scr, want) {
				t.Errorf("%dx%d: the screen lacks %q:\n%s", sz[0], sz[1], want, scr)
			}
		}
		if !strings.Contains(scr, "– FROM app AS test") {
			t.Errorf("%dx%d: the skipped stage's lines have no – in the Dockerfile gutter:\n%s", sz[0], sz[1], scr)
		}
		s.keys("q")
		if code := waitExit(t, s, exitFile); code != "0" {
			t.Errorf("strata exited %s, want 0", code)
		}
	}
	out := mustStrata(t, "build", "--root", root, "--target", "app", "--progress", "plain", ctx)
	if strings.Contains(out, "skipped") || strings.Contains(out, "echo lint") {
		t.Errorf("the plain output mentions the skipped stages:\n%s", out)
	}
	nothingLeft(t, root)
}
