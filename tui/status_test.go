package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
)

func newStatusModel(t *testing.T, f *fixture, evs ...event.Event) *model {
	t.Helper()
	m := newModel(Options{Backend: f.be, Title: "redis-image", Control: newFakeControl(3), Rebuild: func(int) {}})
	m.c.now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 120, Height: 36} })
	feedModel(t, m, evs...)
	return m
}

func feedModel(t *testing.T, m *model, evs ...event.Event) {
	t.Helper()
	settle(t, m, func() tea.Msg { return eventsMsg{evs: evs} })
}

// A status describes now, or goes.
func TestStatusDescribesNow(t *testing.T) {
	t.Run("n, then the step fails", func(t *testing.T) {
		f := newFixture()
		first, _ := f.pausedParts()
		m := newStatusModel(t, f, first...)
		press(t, m, "n")
		if !strings.Contains(m.status, "pausing before the next step") {
			t.Fatalf("after n: %q", m.status)
		}
		fail := f.failing()
		feedModel(t, m, append([]event.Event{event.Resumed{Step: 1}}, fail[4:]...)...)
		if strings.Contains(m.status, "pausing") || strings.Contains(m.status, "running [") {
			t.Errorf("after the build failed the status still says %q", m.status)
		}
		if scr := cleanScreen(m.render()); strings.Contains(scr, "pausing before the next step") {
			t.Errorf("the screen still says the build is pausing:\n%s", scr)
		}
	})
	t.Run("a status about the old build, then a rebuild", func(t *testing.T) {
		f := newFixture()
		m := newStatusModel(t, f, f.events()...)
		m.setStatus(statusInfo, "the shell's changes were thrown away") // as the keep prompt's n says
		feedModel(t, m, f.events()[:3]...)                              // a rebuild (the watcher's) starts
		if m.status != "" {
			t.Errorf("after an unrelated rebuild the status still says %q", m.status)
		}
	})
	t.Run("r, then the rebuild ends", func(t *testing.T) {
		f := newFixture()
		m := newStatusModel(t, f, f.events()...)
		press(t, m, "r")
		if !strings.HasPrefix(m.status, "rebuilding") {
			t.Fatalf("after r: %q", m.status)
		}
		evs := f.events()
		feedModel(t, m, evs[:3]...)
		if !strings.HasPrefix(m.status, "rebuilding") {
			t.Errorf("while the rebuild runs the status is %q", m.status)
		}
		feedModel(t, m, evs[3:]...)
		if strings.HasPrefix(m.status, "rebuilding") {
			t.Errorf("after the rebuild ended the status still says %q", m.status)
		}
	})
}
