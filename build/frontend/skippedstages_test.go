package frontend

import (
	"reflect"
	"testing"

	"github.com/strata-build/strata/build/event"
)

// skipDockerfile: build's TestSkippedStagesInPlanReady builds the same file.
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
		p, err := Parse("Dockerfile", []byte(skipDockerfile), Options{Target: tc.target})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Skipped, tc.want) {
			t.Errorf("--target %q: skipped stages\n got %+v\nwant %+v", tc.target, p.Skipped, tc.want)
		}
	}
}
