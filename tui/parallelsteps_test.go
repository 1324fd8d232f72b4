package tui

import (
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
)

// TestTwoStepsRunning: steps of independent stages run at once; each is
// shown running until its own end, and when one ends the steps list
// follows the one still running (not the one that ended).
func TestTwoStepsRunning(t *testing.T) {
	f := newFixture()
	b := newBuildState()
	now := time.Unix(0, 0)
	b.apply(f.plan, now)
	if len(b.steps) < 3 {
		t.Fatalf("the fixture has %d steps, want 3 or more", len(b.steps))
	}
	b.apply(event.StepStarted{Step: 1}, now)
	b.apply(event.StepStarted{Step: 2}, now)
	if b.steps[1].status != statusRunning || b.steps[2].status != statusRunning {
		t.Fatalf("statuses %v %v, want both running", b.steps[1].status, b.steps[2].status)
	}
	b.apply(event.StepDone{Step: 2, ImageID: "sha256:i"}, now)
	if b.steps[1].status != statusRunning {
		t.Errorf("step 1 is %v after step 2 ended, want still running", b.steps[1].status)
	}
	if b.running != 1 {
		t.Errorf("running = %d after step 2 ended, want 1 (still running)", b.running)
	}
	b.apply(event.StepDone{Step: 1, ImageID: "sha256:j"}, now)
	if b.running != -1 {
		t.Errorf("running = %d after both ended, want -1", b.running)
	}
}
