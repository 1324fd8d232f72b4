package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
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

// skippedBuild is a --target app build of skipDockerfile: base and app
// built, lint (nothing reads it) and test (after the target) skipped.
func skippedBuild() []event.Event {
	st := func(i, stage int, name string, n, of int, kind, text string, line int, meta bool) event.StepInfo {
		return event.StepInfo{Index: i, Stage: stage, StageName: name, Number: n, StageSteps: of, Kind: event.StepKind(kind),
			Text: text, StartLine: line, EndLine: line, MetadataOnly: meta}
	}
	plan := event.PlanReady{Dockerfile: "Dockerfile", Source: []byte(skipDockerfile), Target: "app",
		Steps: []event.StepInfo{
			st(0, 0, "base", 1, 2, "FROM", "FROM busybox AS base", 1, false),
			st(1, 0, "base", 2, 2, "RUN", "RUN echo base", 2, false),
			st(2, 2, "app", 1, 2, "FROM", "FROM base AS app", 7, false),
			st(3, 2, "app", 2, 2, "CMD", `CMD ["sh"]`, 8, true),
		},
		Stages: []string{"base", "app"},
		Skipped: []event.SkippedStage{
			{Stage: 1, Name: "lint", StartLine: 4, EndLine: 5, Reason: "no stage depends on it"},
			{Stage: 3, Name: "test", StartLine: 10, EndLine: 11, Reason: "not needed for --target app"},
		}}
	evs := []event.Event{plan}
	for i := range 4 {
		evs = append(evs, event.StepStarted{Step: i},
			event.StepDone{Step: i, ImageID: digest("skip" + itoa(i)), Duration: 100 * time.Millisecond, Reason: "no cache entry"})
	}
	return append(evs, event.BuildDone{ImageID: digest("skip3"), Duration: time.Second, Built: 4, Layers: 2})
}

// TestSkippedStagesShown: a stage the build skips is shown as skipped, with
// why, in the Steps pane (its own row) and in the Dockerfile pane (– in the
// gutter of its lines, the reason under its FROM).
func TestSkippedStagesShown(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		f := newFixture()
		m := newTestModel(t, f.be, size[0], size[1], skippedBuild()...)
		screen := m.render()
		df, steps := upperPanes(t, screen)
		dft, stt := strings.Join(df, "\n"), strings.Join(steps, "\n")
		wants := []string{"╰ skipped: no stage depends on it", "╰ skipped: not needed for --target app"}
		if size[0] < 200 { // a narrow Dockerfile pane, scrolled to the end
			wants = []string{"╰ skipped: not"}
		}
		for _, want := range wants {
			if !strings.Contains(dft, want) {
				t.Errorf("%dx%d: the Dockerfile pane lacks %q:\n%s", size[0], size[1], want, dft)
			}
		}
		if size[0] >= 200 {
			for _, want := range []string{"– stage 1 · lint  skipped: no stage depends on it", "– stage 3 · test  skipped: not needed for --target app"} {
				if !strings.Contains(stt, want) {
					t.Errorf("%dx%d: the Steps pane lacks %q:\n%s", size[0], size[1], want, stt)
				}
			}
		} else if !strings.Contains(stt, "– stage 1 · lint  skipped: no stage depends on it") || !strings.Contains(stt, "– test skipped: not needed for --target app") {
			t.Errorf("%dx%d: the Steps pane does not show the skipped stages:\n%s", size[0], size[1], stt)
		}
		// the gutter marks every instruction line of a skipped stage
		for _, l := range df {
			for _, src := range []string{"RUN echo lint", "RUN echo test", "FROM busybox AS lint", "FROM app AS test"} {
				if strings.Contains(l, src) && !strings.Contains(l, "–") {
					t.Errorf("%dx%d: line %q has no – in its gutter", size[0], size[1], l)
				}
			}
		}
		requireGolden(t, "screen-skipped-"+itoa(size[0])+"x"+itoa(size[1]), screen)
	}
}

// TestSkippedStageNamesNotShifted: with an unnamed stage skipped, each
// built stage's header names it, not the next built stage.
func TestSkippedStageNamesNotShifted(t *testing.T) {
	src := "FROM busybox\nRUN echo zero\n\nFROM busybox\nRUN echo one\n\nFROM busybox\nRUN echo two\n"
	st := func(i, stage, n int, kind, text string, line int) event.StepInfo {
		return event.StepInfo{Index: i, Stage: stage, Number: n, StageSteps: 2, Kind: event.StepKind(kind), Text: text, StartLine: line, EndLine: line}
	}
	plan := event.PlanReady{Dockerfile: "Dockerfile", Source: []byte(src), Target: "",
		Steps: []event.StepInfo{
			st(0, 1, 1, "FROM", "FROM busybox", 4), st(1, 1, 2, "RUN", "RUN echo one", 5),
			st(2, 2, 1, "FROM", "FROM busybox", 7), st(3, 2, 2, "RUN", "RUN echo two", 8),
		},
		Stages:  []string{"stage-1", "stage-2"},
		Skipped: []event.SkippedStage{{Stage: 0, Name: "stage-0", StartLine: 1, EndLine: 2, Reason: "no stage depends on it"}}}
	f := newFixture()
	m := newTestModel(t, f.be, 120, 30, plan)
	_, steps := upperPanes(t, m.render())
	text := strings.Join(steps, "\n")
	if strings.Contains(text, "stage 1 · stage-2") {
		t.Errorf("stage 1 is named after stage 2:\n%s", text)
	}
	for _, want := range []string{"– stage 0  skipped: no stage depends on it", "▾ stage 1", "▾ stage 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Steps pane lacks %q:\n%s", want, text)
		}
	}
}
