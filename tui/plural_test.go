package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
)

// TestOneIsSingular: the header says "1 layer".
func TestOneIsSingular(t *testing.T) {
	f := newFixture()
	evs := []event.Event{
		event.PlanReady{Dockerfile: "Dockerfile", Source: []byte("FROM scratch\nCOPY a /a\n"), Steps: []event.StepInfo{
			{Index: 0, Kind: "FROM", Text: "FROM scratch", Number: 1, StageSteps: 2, StartLine: 1, EndLine: 1},
			{Index: 1, Kind: "COPY", Text: "COPY a /a", Number: 2, StageSteps: 2, StartLine: 2, EndLine: 2},
		}, Stages: []string{"stage 0"}},
		event.StepDone{Step: 0, ImageID: digest("i0")},
		event.StepStarted{Step: 1},
		event.StepLog{Step: 1, Stream: "stdout", Line: "only line"},
		event.StepDone{Step: 1, ImageID: digest("i1"), DiffID: digest("l1"), Size: 10, Files: 1, Duration: time.Second},
		event.BuildDone{ImageID: digest("i1"), Size: 10, Layers: 1, Duration: time.Second, Built: 2},
	}
	m := newTestModel(t, f.be, 120, 36, evs...)
	out := cleanScreen(m.render())
	if !strings.Contains(out, "· 1 layer ·") || strings.Contains(out, "1 layers") {
		t.Errorf("header: want \"1 layer\":\n%s", out)
	}
}
