package tui

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
)

// TestStepWords: FROM is described as bringing in the base image's layers
// (with their count), a RUN that changed no files as "no changes", never
// as metadata ("meta") like LABEL or CMD.
func TestStepWords(t *testing.T) {
	f := newFixture()
	base := &event.Snapshot{Layers: []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}, {Algorithm: "sha256", Hex: strings.Repeat("b", 64)}}, Step: 0}
	run := &event.Snapshot{Layers: append(base.Layers, v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("c", 64)}), Parent: base, Step: 1}
	evs := []event.Event{
		event.PlanReady{Dockerfile: "Dockerfile", Source: []byte("FROM base:1\nRUN true\nLABEL a=b\n"), Steps: []event.StepInfo{
			{Index: 0, Kind: "FROM", Text: "FROM base:1", Number: 1, StageSteps: 3, StartLine: 1, EndLine: 1},
			{Index: 1, Kind: "RUN", Text: "RUN true", Number: 2, StageSteps: 3, StartLine: 2, EndLine: 2},
			{Index: 2, Kind: "LABEL", Text: "LABEL a=b", Number: 3, StageSteps: 3, StartLine: 3, EndLine: 3, MetadataOnly: true},
		}, Stages: []string{"stage 0"}},
		event.StepDone{Step: 0, ImageID: digest("i0"), Snapshot: base},
		event.StepStarted{Step: 1, Container: strings.Repeat("f", 64)},
		event.StepDone{Step: 1, ImageID: digest("i1"), DiffID: "sha256:" + strings.Repeat("c", 64), Size: 1024, Duration: time.Second, Snapshot: run},
		event.StepDone{Step: 2, ImageID: digest("i2"), Snapshot: &event.Snapshot{Layers: run.Layers, Parent: run, Step: 2}},
		event.BuildDone{ImageID: digest("i2"), Size: 10, Layers: 3, Duration: time.Second, Built: 3},
	}
	m := newTestModel(t, f.be, 120, 36, evs...)
	steps := cleanScreen(m.render())
	for _, want := range []string{"base 2 layers", "no changes", "meta"} {
		if !strings.Contains(steps, want) {
			t.Errorf("Steps pane lacks %q:\n%s", want, steps)
		}
	}
	if strings.Count(steps, "meta") != 1 {
		t.Errorf("only LABEL is metadata:\n%s", steps)
	}
	b := m.b
	from := strings.Join(stepStory(m.c, b, 0, 200), "\n")
	if !strings.Contains(from, "FROM brings in the 2 layers of image") || strings.Contains(from, "Metadata only") {
		t.Errorf("FROM's story:\n%s", from)
	}
	r := strings.Join(stepStory(m.c, b, 1, 200), "\n")
	if !strings.Contains(r, "no changes") || strings.Contains(r, "Metadata only") {
		t.Errorf("the no-change RUN's story:\n%s", r)
	}
}
