package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// skipDockerfile: the front end's TestSkippedStages plans the same file.
const skipDockerfile = `FROM busybox AS base
RUN echo base

FROM busybox AS lint
RUN echo lint

FROM base AS app
CMD ["sh"]

FROM app AS test
RUN echo test
`

// TestSkippedStagesInPlanReady: the build's PlanReady names the stages it
// skips, with why, so the TUI can show them.
func TestSkippedStagesInPlanReady(t *testing.T) {
	dir := t.TempDir()
	src := strings.ReplaceAll(skipDockerfile, "busybox", "scratch")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := buildIn(t, newStore(t), frontend.Options{ContextDir: dir, Target: "app"}, exitRunner{})
	if r.err != nil {
		t.Fatal(r.err)
	}
	var plan *event.PlanReady
	for _, ev := range r.events {
		if p, ok := ev.(event.PlanReady); ok {
			plan = &p
		}
	}
	if plan == nil {
		t.Fatal("no PlanReady")
	}
	var got []string
	for _, s := range plan.Skipped {
		got = append(got, s.Name+": "+s.Reason)
	}
	if want := "lint: no stage depends on it|test: not needed for --target app"; strings.Join(got, "|") != want {
		t.Errorf("PlanReady.Skipped = %q, want %q", got, want)
	}
}
