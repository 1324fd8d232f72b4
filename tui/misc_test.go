package tui

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

func TestNoColor(t *testing.T) {
	f := newFixture()
	m := New(Options{Backend: f.be, NoColor: true})
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

// TestDockerfileSelectsStep: moving in the Dockerfile selects the step of
// the line, and selecting a step moves the Dockerfile cursor.
func TestDockerfileSelectsStep(t *testing.T) {
	f := newFixture()
	m := newTestModel(t, f.be, 100, 30, f.events()...)
	press(t, m, "shift+tab") // Dockerfile
	press(t, m, "g", "j", "j")
	if m.sel != 1 {
		t.Fatalf("line 3 selects step %d, want 1 (RUN)", m.sel)
	}
	press(t, m, "enter")
	if m.tab != tabStep || m.focus != paneBottom {
		t.Errorf("enter opens tab %s focus %d", tabNames[m.tab], m.focus)
	}
	press(t, m, "shift+tab", "j", "j")
	if m.sel != 3 || m.df.cursor != 4 {
		t.Errorf("steps j j: selected %d, Dockerfile line %d", m.sel, m.df.cursor+1)
	}
}

func TestDiff(t *testing.T) {
	cases := []struct {
		a, b string
		want string
	}{
		{"a\nb\nc", "a\nb\nc", ""},
		{"a\nb\nc", "a\nx\nc", "@@ -1,3 +1,3 @@| a|-b|+x| c"},
		{"", "a\nb", "@@ -0,0 +1,2 @@|+a|+b"},
		{"a\nb", "", "@@ -1,2 +0,0 @@|-a|-b"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12", "1\n2\nX\n4\n5\n6\n7\n8\n9\n10\nY\n12",
			"@@ -1,6 +1,6 @@| 1| 2|-3|+X| 4| 5| 6|@@ -8,5 +8,5 @@| 8| 9| 10|-11|+Y| 12"},
	}
	for _, c := range cases {
		var parts []string
		for _, l := range unified(splitLines([]byte(c.a)), splitLines([]byte(c.b)), 3) {
			if l.op == '@' {
				parts = append(parts, l.text)
			} else {
				parts = append(parts, string(l.op)+l.text)
			}
		}
		if got := strings.Join(parts, "|"); got != c.want {
			t.Errorf("diff %q → %q:\n got %s\nwant %s", c.a, c.b, got, c.want)
		}
	}
	// the edit script is minimal on a classic example
	ops := lineEdits(strings.Split("ABCABBA", ""), strings.Split("CBABAC", ""))
	n := 0
	for _, o := range ops {
		if o != '=' {
			n++
		}
	}
	if n != 5 {
		t.Errorf("ABCABBA→CBABAC: %d edits (%s), want 5", n, ops)
	}
}

func tabColumn(m *Model, want tab) int {
	for x := 0; x < m.w; x++ {
		if t, ok := m.tabAt(x); ok && t == want {
			return x + 1
		}
	}
	return -1
}
