package tui

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
)

// helpText is the whole ? screen, scrolled through to its end.
func helpText(t *testing.T, m *model) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < 40; i++ {
		b.WriteString(cleanScreen(m.render()))
		press(t, m, "pgdown")
	}
	return b.String()
}

// TestHelpScreenListsEveryKey: ? lists every key, grouped (everywhere, the
// panes, while paused, after a shell), and a legend of every status symbol.
func TestHelpScreenListsEveryKey(t *testing.T) {
	f := newFixture()
	for _, sz := range []size{{80, 24}, {200, 50}} {
		t.Run(sz.String(), func(t *testing.T) {
			m := newTestModel(t, f.be, sz.w, sz.h, f.events()...)
			press(t, m, "?")
			requireGolden(t, "screen-help-keys-"+sz.String(), m.render())
			checkShape(t, m.render(), sz)
			text := helpText(t, m)
			k := m.keys
			var all []key.Binding
			all = append(all, k.NextPane, k.PrevPane, k.NextTab, k.PrevTab, k.Help, k.Quit, k.Save, k.Break, k.Next, k.Continue,
				k.Pause, k.Shell, k.Partial, k.Rebuild, k.RebuildNoCache, k.Mark, k.Compare, k.ComparePrev, k.Run)
			all = append(all, m.logs.keys.Search, m.logs.keys.Next, m.logs.keys.Prev, m.logs.keys.Follow,
				m.files.keys.Filter, m.files.keys.Sort, m.files.keys.Whole, m.compare.keys.Config, m.file.keys.Back,
				m.steps.keys.Follow, m.df.keys.Open)
			all = append(all, m.df.keys.navKeyMap.bindings()...)
			for _, b := range all {
				h := b.Help()
				if !strings.Contains(text, h.Key+" ") || !strings.Contains(text, h.Desc) {
					t.Errorf("the help screen lacks %q %q", h.Key, h.Desc)
				}
			}
			for _, want := range []string{"Everywhere", "Steps pane (focused)", "Log tab", "Files tab", "Compare tab",
				"While paused", "After a shell", "keep the shell's", "Symbols",
				"≡", "✓", "▶", "●", "·", "✗", "◆", "$", spinFrames[0], "pick a tab below (the"} {
				if !strings.Contains(text, want) {
					t.Errorf("the help screen lacks %q", want)
				}
			}
			press(t, m, "esc")
			if m.help.ShowAll {
				t.Error("esc does not close the help screen")
			}
		})
	}
}

// TestHelpBarFocusedPaneFirst: the help bar starts with the focused pane's
// keys; a number key that picks a tab says the focus moves, and the focused
// pane is marked ▸ in its title (visible without color).
func TestHelpBarFocusedPaneFirst(t *testing.T) {
	f := newFixture()
	m := newTestModel(t, f.be, 200, 50, f.events()...)
	press(t, m, "1") // the Log tab, focus on the lower pane
	lines := strings.Split(cleanScreen(m.render()), "\n")
	bar := lines[len(lines)-2]
	if !strings.HasPrefix(bar, "↑/k up • ↓/j down • / search") {
		t.Errorf("the help bar does not start with the Log tab's keys: %q", bar)
	}
	if !strings.Contains(bar, "1-9 tab (focus ↓)") {
		t.Errorf("the help bar does not say the number keys move the focus: %q", bar)
	}
	var bottomTitle string
	for _, l := range lines {
		if strings.Contains(l, "1 Log") {
			bottomTitle = l
		}
	}
	if !strings.HasPrefix(bottomTitle, "╭─ ▸") {
		t.Errorf("the focused lower pane is not marked: %q", bottomTitle)
	}
	if strings.Contains(lines[1], "▸") {
		t.Errorf("an unfocused upper pane is marked: %q", lines[1])
	}
}
