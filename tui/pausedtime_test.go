package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
)

// TestPausedTimeShownApart: the time a build spent paused is shown apart
// from its time, in the header and the Summary; while it runs, the header's
// clock leaves the pauses out.
func TestPausedTimeShownApart(t *testing.T) {
	f := newFixture()
	evs := f.events()
	done := evs[len(evs)-1].(event.BuildDone)
	done.Paused = time.Minute
	evs[len(evs)-1] = done
	m := newTestModel(t, f.be, 120, 36, evs...)
	if h := m.header(); !strings.Contains(h, "3.6s (+1m00s paused)") {
		t.Errorf("header %q: want the build's time with the paused time apart", h)
	}
	sum := strings.Join(summaryView(m.c, m.b, 100), "\n")
	if !strings.Contains(sum, "3.6s (+1m00s paused)") {
		t.Errorf("Summary does not show the paused time apart:\n%s", sum)
	}

	// Running: paused a minute before step 1, then 2 s of work.
	first, rest := f.pausedParts()
	m = newTestModel(t, f.be, 120, 36, first...)
	start := m.b.started
	feedModel(t, m, event.Resumed{Step: 1, Paused: time.Minute}, rest[0][1])
	m.c.now = func() time.Time { return start.Add(time.Minute + 2*time.Second) }
	if h := m.header(); !strings.Contains(h, "· 2.0s") {
		t.Errorf("running header %q: want 2.0s of build time, the minute paused left out", h)
	}
}
