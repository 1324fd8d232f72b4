package tui

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/strata-build/strata/build/event"
)

// TestUpdateFlagOff fails when -update is left on, so rewritten goldens are
// never mistaken for a passing run (like dive's guard).
func TestUpdateFlagOff(t *testing.T) {
	if updating() {
		t.Fatal("-update is on: golden files were rewritten; review them and run the tests again without -update")
	}
}

type size struct{ w, h int }

func (s size) String() string { return fmt.Sprintf("%dx%d", s.w, s.h) }

// TestScreenGolden renders the whole screen in the main states.
func TestScreenGolden(t *testing.T) {
	f := newFixture()
	cases := []struct {
		name  string
		evs   []event.Event
		sizes []size
		keys  []string
	}{
		{"running", f.running(), []size{{80, 24}, {120, 36}}, nil},
		{"done", f.events(), []size{{80, 24}, {120, 36}, {200, 50}}, nil},
		{"failed", f.failing(), []size{{80, 24}, {120, 36}}, nil},
		{"parse-error", parseError(), []size{{80, 24}}, nil},
		{"too-small", f.events(), []size{{50, 12}}, nil},
		{"help", f.events(), []size{{80, 24}}, []string{"?"}},
	}
	for _, c := range cases {
		for _, sz := range c.sizes {
			t.Run(c.name+"/"+sz.String(), func(t *testing.T) {
				m := newTestModel(t, f.be, sz.w, sz.h, c.evs...)
				press(t, m, c.keys...)
				out := m.render()
				requireGolden(t, "screen-"+c.name+"-"+sz.String(), out)
				checkShape(t, out, sz)
			})
		}
	}
}

// checkShape asserts the screen is exactly w×h cells: no line wraps and
// no row is missing, so the terminal never scrolls or flickers.
func checkShape(t *testing.T, out string, sz size) {
	t.Helper()
	if sz.w < minWidth || sz.h < minHeight {
		return
	}
	lines := strings.Split(out, "\n")
	if len(lines) != sz.h {
		t.Errorf("screen has %d lines, want %d", len(lines), sz.h)
	}
	for i, l := range lines {
		if w := ansiWidth(l); w != sz.w {
			t.Errorf("line %d is %d cells wide, want %d: %q", i, w, sz.w, cleanScreen(l))
		}
	}
}

// TestPaneGolden renders each pane alone at a few sizes.
func TestPaneGolden(t *testing.T) {
	f := newFixture()
	sizes := []size{{40, 10}, {72, 16}, {110, 24}}
	type paneCase struct {
		name string
		evs  []event.Event
		keys []string
		view func(m *model, sz size) string
	}
	cases := []paneCase{
		{"dockerfile", f.events(), []string{"tab", "shift+tab", "shift+tab", "up", "up"}, func(m *model, sz size) string {
			m.df.SetSize(sz.w, sz.h)
			return m.df.View()
		}},
		{"dockerfile-failed", f.failing(), nil, func(m *model, sz size) string {
			m.df.SetSize(sz.w, sz.h)
			return m.df.View()
		}},
		{"steps", f.running(), nil, func(m *model, sz size) string {
			m.steps.SetSize(sz.w, sz.h)
			return m.steps.View()
		}},
		{"steps-done", f.events(), []string{"up", "up", "up", "up"}, func(m *model, sz size) string {
			m.steps.SetSize(sz.w, sz.h)
			return m.steps.View()
		}},
		{"log", f.events(), []string{"up", "up", "up", "up", "1"}, func(m *model, sz size) string {
			m.logs.SetSize(sz.w, sz.h)
			return m.logs.View()
		}},
		{"files", f.events(), []string{"up", "up", "up", "up", "3"}, func(m *model, sz size) string {
			m.files.SetSize(sz.w, sz.h)
			return m.files.View()
		}},
		{"files-whole", f.events(), []string{"up", "up", "up", "up", "3", "w", "f"}, func(m *model, sz size) string {
			m.files.SetSize(sz.w, sz.h)
			return m.files.View()
		}},
		{"files-size-search", f.events(), []string{"up", "up", "up", "up", "3", "o", "/", "r", "e", "d"}, func(m *model, sz size) string {
			m.files.SetSize(sz.w, sz.h)
			return m.files.View()
		}},
		{"file-diff", f.events(), []string{"up", "up", "up", "up", "3", "/", "w", "o", "r", "l", "d", "enter", "enter"}, func(m *model, sz size) string {
			m.file.SetSize(sz.w, sz.h)
			return m.file.View()
		}},
		{"file-binary", f.events(), []string{"up", "up", "up", "up", "3", "/", "r", "e", "d", "i", "s", "-", "s", "enter", "enter"}, func(m *model, sz size) string {
			m.file.SetSize(sz.w, sz.h)
			return m.file.View()
		}},
		{"config", f.events(), nil, func(m *model, sz size) string {
			press(t, m, "5")
			m.config.SetSize(sz.w, sz.h)
			return m.config.View()
		}},
		{"cache", f.events(), []string{"up", "up", "up"}, func(m *model, sz size) string {
			press(t, m, "6")
			m.cache.SetSize(sz.w, sz.h)
			return m.cache.View()
		}},
		{"step-run", f.events(), []string{"up", "up", "up", "up", "2"}, func(m *model, sz size) string {
			m.story.SetSize(sz.w, sz.h)
			return m.story.View()
		}},
		{"step-meta", f.events(), []string{"2"}, func(m *model, sz size) string {
			m.story.SetSize(sz.w, sz.h)
			return m.story.View()
		}},
		{"step-failed", f.failing(), []string{"2"}, func(m *model, sz size) string {
			m.story.SetSize(sz.w, sz.h)
			return m.story.View()
		}},
		{"summary", f.events(), nil, func(m *model, sz size) string {
			m.summary.SetSize(sz.w, sz.h)
			return m.summary.View()
		}},
	}
	for _, c := range cases {
		for _, sz := range sizes {
			t.Run(c.name+"/"+sz.String(), func(t *testing.T) {
				m := newTestModel(t, f.be, 120, 40, c.evs...)
				press(t, m, c.keys...)
				out := c.view(m, sz)
				requireGolden(t, "pane-"+c.name+"-"+sz.String(), out)
				for i, l := range strings.Split(out, "\n") {
					if w := ansiWidth(l); w > sz.w {
						t.Errorf("line %d is %d cells wide, more than %d", i, w, sz.w)
					}
				}
				if n := strings.Count(out, "\n") + 1; n > sz.h {
					t.Errorf("%d lines, more than %d", n, sz.h)
				}
			})
		}
	}
}

// TestLongStatusWrapsQA: a status longer than the terminal is wrapped
// onto more rows instead of being cut ("…" hid the advice at 80 columns).
func TestLongStatusWrapsQA(t *testing.T) {
	m, _, _ := newPausedModel(t, 80, 24)
	press(t, m, "shift+tab") // the Dockerfile pane
	press(t, m, "g", "b")    // line 1 is a comment
	scr := ansi.Strip(m.render())
	flat := strings.Join(strings.Fields(scr), " ")
	if want := "line 1 is not part of an instruction: no step stops there; put the breakpoint on a step's line"; !strings.Contains(flat, want) {
		t.Errorf("the status is not shown whole:\n%s", scr)
	}
	lines := strings.Split(scr, "\n")
	if len(lines) != 24 {
		t.Errorf("screen has %d lines, want 24", len(lines))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != 80 {
			t.Errorf("line %d is %d wide: %q", i, w, l)
		}
	}
	press(t, m, "j") // the status goes with the next key: the panes grow back
	if got := len(strings.Split(ansi.Strip(m.render()), "\n")); got != 24 {
		t.Errorf("after the status: %d lines, want 24", got)
	}
}

func TestNoColor(t *testing.T) {
	f := newFixture()
	m := newModel(Options{Backend: f.be, NoColor: true})
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: f.events()} })
	out := m.render()
	for _, seq := range regexp.MustCompile("\x1b\\[([0-9;:]*)m").FindAllStringSubmatch(out, -1) {
		for _, p := range strings.Split(seq[1], ";") {
			n, _ := strconv.Atoi(strings.SplitN(p, ":", 2)[0])
			if (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) {
				t.Fatalf("colour escape %q in NO_COLOR output", seq[0])
			}
		}
	}
	if !strings.Contains(out, "\x1b[") {
		t.Fatal("no attributes at all: the selection would be invisible")
	}
}
