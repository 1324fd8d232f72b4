package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
)

// settleAny is settle for any tea.Model (the multi-platform root).
func settleAny(t testing.TB, m tea.Model, cmd tea.Cmd) {
	t.Helper()
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0; n++ {
		if n > 10000 {
			t.Fatal("settle: too many messages")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil, spinner.TickMsg, tea.QuitMsg:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

// platformEvents are the fixture's build as one platform's run, d long,
// its RUN steps slow times slower (the emulated one).
func platformEvents(f *fixture, d time.Duration, slow int, id string) []event.Event {
	evs := f.events()
	for i, ev := range evs {
		switch ev := ev.(type) {
		case event.BuildDone:
			ev.Duration, ev.ImageID = d, digest(id)
			evs[i] = ev
		case event.StepDone:
			if f.plan.Steps[ev.Step].Kind == "RUN" {
				ev.Duration *= time.Duration(slow)
				evs[i] = ev
			}
		}
	}
	return evs
}

// newPlatformsTest is a two-platform TUI (linux/amd64 native, linux/arm64
// emulated) at w×h with both runs' events applied.
func newPlatformsTest(t *testing.T, w, h int) *platformsModel {
	t.Helper()
	f := newFixture()
	p := newPlatformsModel(Options{Title: "redis-image", Platforms: []Options{
		{Title: "linux/amd64", Backend: f.be},
		{Title: "linux/arm64/v8", Backend: f.be, Emulated: true},
	}})
	for _, m := range p.ms {
		m.c.now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
	}
	settleAny(t, p, func() tea.Msg { return tea.WindowSizeMsg{Width: w, Height: h} })
	settleAny(t, p, func() tea.Msg {
		return platformMsg{i: 0, msg: eventsMsg{evs: platformEvents(f, 2100*time.Millisecond, 1, "amd64-image"), closed: true}}
	})
	settleAny(t, p, func() tea.Msg {
		return platformMsg{i: 1, msg: eventsMsg{evs: platformEvents(f, 9450*time.Millisecond, 4, "arm64-image"), closed: true}}
	})
	return p
}

func render(p *platformsModel) string { return p.View().Content }

// One step tree per platform: a switches, the header names the platform,
// Summary explains the index with each platform's image and the
// emulated one's ratio to the native one.
func TestPlatformsView(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			p := newPlatformsTest(t, sz[0], sz[1])
			first := render(p)
			if !strings.Contains(strings.SplitN(first, "\n", 2)[0], "amd64 1/2") {
				t.Errorf("the header does not name amd64 1/2:\n%s", first)
			}
			requireGolden(t, fmt.Sprintf("platforms-amd64-%dx%d", sz[0], sz[1]), first)
			settleAny(t, p, func() tea.Msg { return keyMsg("a") })
			if p.active != 1 {
				t.Fatalf("a: shows platform %d, want 1", p.active)
			}
			second := render(p)
			if !strings.Contains(strings.SplitN(second, "\n", 2)[0], "arm64/v8 (QEMU) 2/2") {
				t.Errorf("after a the header does not name arm64/v8 (QEMU) 2/2:\n%s", second)
			}
			requireGolden(t, fmt.Sprintf("platforms-arm64-%dx%d", sz[0], sz[1]), second)
			settleAny(t, p, func() tea.Msg { return keyMsg("a") })
			if p.active != 0 {
				t.Errorf("a twice: shows platform %d, want 0", p.active)
			}
		})
	}
	// The note itself, whatever the pane's height: every platform, its
	// image, how it ran, the ratio.
	p := newPlatformsTest(t, 200, 50)
	note := cleanScreen(strings.Join(p.indexNote(p.ms[1].c, 1, 120), "\n"))
	for _, want := range []string{"image index: 2 platforms", "manifest list", "linux/amd64", "native", "linux/arm64/v8", "emulated (QEMU)", "RUN 4.0× native", shortID(digest("arm64-image"), 12)} {
		if !strings.Contains(note, want) {
			t.Errorf("the index note does not say %q:\n%s", want, note)
		}
	}
	if got := p.times(); got != "amd64 2.1s · arm64/v8 9.4s (RUN 4.0× native)" {
		t.Errorf("times = %q", got)
	}
}
