package event

import (
	"bytes"
	"strings"
	"testing"
)

// TestGroupedKeepsStepsTogether: two steps of independent stages run at
// once, their events interleaved; the plain output prints one step whole,
// then the other, in the order they started, and a sequential build's
// events print as without grouping.
func TestGroupedKeepsStepsTogether(t *testing.T) {
	steps := []StepInfo{{Index: 0, Text: "FROM scratch AS a", Kind: "FROM"}, {Index: 1, Text: "RUN a"}, {Index: 2, Text: "FROM scratch AS b", Kind: "FROM"}, {Index: 3, Text: "RUN b"}}
	interleaved := []Event{
		PlanReady{Steps: steps},
		StepStarted{Step: 1},
		StepStarted{Step: 3},
		StepLog{Step: 3, Line: "b1"},
		StepLog{Step: 1, Line: "a1"},
		StepLog{Step: 3, Line: "b2"},
		StepDone{Step: 3, ImageID: "sha256:bbbb"},
		StepLog{Step: 1, Line: "a2"},
		StepDone{Step: 1, ImageID: "sha256:aaaa"},
		BuildDone{ImageID: "sha256:aaaa"},
	}
	sequential := []Event{
		PlanReady{Steps: steps},
		StepStarted{Step: 1},
		StepLog{Step: 1, Line: "a1"},
		StepLog{Step: 1, Line: "a2"},
		StepDone{Step: 1, ImageID: "sha256:aaaa"},
		StepStarted{Step: 3},
		StepLog{Step: 3, Line: "b1"},
		StepLog{Step: 3, Line: "b2"},
		StepDone{Step: 3, ImageID: "sha256:bbbb"},
		BuildDone{ImageID: "sha256:aaaa"},
	}
	print := func(evs []Event, group bool) string {
		var b bytes.Buffer
		var p Printer = &PlainPrinter{W: &b, NoTimes: true}
		if group {
			p = Grouped(p)
		}
		for _, ev := range evs {
			p.Print(ev)
		}
		return b.String()
	}
	want := print(sequential, false)
	if got := print(interleaved, true); got != want {
		t.Errorf("interleaved, grouped:\n%s\nwant:\n%s", got, want)
	}
	if got := print(sequential, true); got != want {
		t.Errorf("sequential, grouped:\n%s\nwant as ungrouped:\n%s", got, want)
	}
	if !strings.Contains(want, "a1\na2\n") || !strings.Contains(want, "b1\nb2\n") {
		t.Fatalf("the plain printer's output changed: %s", want)
	}
	// A build cancelled with a step unfinished still prints what it held.
	cut := append(interleaved[:6:6], BuildDone{Error: "cancelled"})
	if got := print(cut, true); !strings.Contains(got, "b2") || !strings.Contains(got, "a1") {
		t.Errorf("cancelled build lost held lines:\n%s", got)
	}
}
