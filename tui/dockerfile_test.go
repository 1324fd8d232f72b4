package tui

import "testing"

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
