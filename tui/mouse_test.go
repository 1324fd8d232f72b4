package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

func TestMouse(t *testing.T) {
	f := newFixture()
	m := newTestModel(t, f.be, 100, 30, f.events()...)
	r := m.rects[paneSteps]
	// rows: stage header, [1/6], [2/6], ...: click [2/6]
	settle(t, m, func() tea.Msg { return tea.MouseClickMsg{X: r.x + 5, Y: r.y + 1 + 2, Button: tea.MouseLeft} })
	if m.sel != 1 || m.focus != paneSteps {
		t.Fatalf("click selected step %d, focus %d", m.sel, m.focus)
	}
	if m.df.Step() != 1 {
		t.Errorf("Dockerfile cursor on step %d, want 1", m.df.Step())
	}
	// click the "Files" tab on the bottom border
	b := m.rects[paneBottom]
	settle(t, m, func() tea.Msg { return tea.MouseClickMsg{X: tabColumn(m, tabFiles), Y: b.y, Button: tea.MouseLeft} })
	if m.tab != tabFiles || m.files.tree == nil {
		t.Fatalf("tab %s, tree loaded %v", tabNames[m.tab], m.files.tree != nil)
	}
	// wheel over the Dockerfile scrolls it without touching the selection
	d := m.rects[paneDockerfile]
	settle(t, m, func() tea.Msg { return tea.MouseWheelMsg{X: d.x + 3, Y: d.y + 2, Button: tea.MouseWheelUp} })
	if m.sel != 1 {
		t.Errorf("wheel changed the selection to %d", m.sel)
	}
}

func tabColumn(m *model, want tab) int {
	for x := 0; x < m.w; x++ {
		if t, ok := m.tabAt(x); ok && t == want {
			return x + 1
		}
	}
	return -1
}
