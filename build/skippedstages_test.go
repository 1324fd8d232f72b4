package build

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

const skipDockerfile = `FROM busybox AS base
RUN echo base

FROM busybox AS lint
RUN echo lint

FROM base AS app
CMD ["sh"]

FROM app AS test
RUN echo test
`

// TestSkippedStages: the plan names each stage it leaves out and why: one
// after the --target stage is not needed for it, one nothing reads has no
// stage depending on it; the TUI gets them in PlanReady.
func TestSkippedStages(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   []event.SkippedStage
	}{
		{"app", []event.SkippedStage{
			{Stage: 1, Name: "lint", StartLine: 4, EndLine: 5, Reason: "no stage depends on it"},
			{Stage: 3, Name: "test", StartLine: 10, EndLine: 11, Reason: "not needed for --target app"},
		}},
		{"", []event.SkippedStage{
			{Stage: 1, Name: "lint", StartLine: 4, EndLine: 5, Reason: "no stage depends on it"},
		}},
		{"base", []event.SkippedStage{
			{Stage: 1, Name: "lint", StartLine: 4, EndLine: 5, Reason: "not needed for --target base"},
			{Stage: 2, Name: "app", StartLine: 7, EndLine: 8, Reason: "not needed for --target base"},
			{Stage: 3, Name: "test", StartLine: 10, EndLine: 11, Reason: "not needed for --target base"},
		}},
	} {
		p, err := frontend.Parse("Dockerfile", []byte(skipDockerfile), frontend.Options{Target: tc.target})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Skipped, tc.want) {
			t.Errorf("--target %q: skipped stages\n got %+v\nwant %+v", tc.target, p.Skipped, tc.want)
		}
	}
}

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
