package tui

import (
	"strings"
	"testing"
)

// After a rebuild the Compare tab does not keep a comparison of the build
// before: an M comparison (a step against the previous build) is dropped
// with a note while the new build runs and made again, on the new build,
// when it ends; a comparison of two marked snapshots is dropped, saying why.
func TestCompareAfterRebuild(t *testing.T) {
	f1, f2, f3 := newFixture(), newFixture(), newFixture()
	m := newTestModel(t, f1.be, 120, 40, f1.events()...)
	feedModel(t, m, f2.events()...) // a second build: M has a previous build
	press(t, m, "up", "up", "up", "up")
	if m.sel != 1 {
		t.Fatalf("selected row %d, want the RUN step", m.sel)
	}
	press(t, m, "M")
	if !m.compare.active || m.compare.a.snap != f1.snaps[1] || m.compare.b.snap != f2.snaps[1] {
		t.Fatalf("M compared %p with %p", m.compare.a.snap, m.compare.b.snap)
	}
	evs := f3.events()
	feedModel(t, m, evs[:3]...) // R: a third build starts
	if m.compare.active {
		t.Fatalf("the comparison of the build before stays: %s vs %s", m.compare.a.label, m.compare.b.label)
	}
	if v := cleanScreen(m.compare.View()); !strings.Contains(v, "a rebuild started") || !strings.Contains(v, "made again") {
		t.Errorf("Compare tab while rebuilding:\n%s", v)
	}
	feedModel(t, m, evs[3:]...)
	if !m.compare.active || m.compare.a.snap != f2.snaps[1] || m.compare.b.snap != f3.snaps[1] {
		t.Fatalf("after the rebuild M is not made again on it: %p vs %p (active %v)", m.compare.a.snap, m.compare.b.snap, m.compare.active)
	}
	if !strings.HasPrefix(m.compare.a.label, "previous build ") || !strings.HasPrefix(m.compare.b.label, "this build ") {
		t.Errorf("labels %q, %q", m.compare.a.label, m.compare.b.label)
	}

	// two marked snapshots: dropped, saying why
	m.compare.Start(refOf(m.b.step(0), ""), refOf(m.b.step(2), ""), false)
	feedModel(t, m, newFixture().events()...)
	if m.compare.active || !strings.Contains(cleanScreen(m.compare.View()), "the build before it") {
		t.Errorf("a marked comparison after a rebuild: active %v\n%s", m.compare.active, cleanScreen(m.compare.View()))
	}
}
