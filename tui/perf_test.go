package tui

import (
	"runtime"
	"strings"
	"testing"
)

// TestLogMemoryBounded walks a 1,000,000-line log (top, pages, end, search)
// and checks only a window of it is ever held.
func TestLogMemoryBounded(t *testing.T) {
	f := newFixture()
	const n = 1_000_000
	f.be.synth[1] = n
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	m := newTestModel(t, f.be, 200, 60, bigEvents(f, 10)...)
	press(t, m, "up", "up", "up", "up", "1")
	if got := m.logs.total(); got != n {
		t.Fatalf("total %d", got)
	}
	limit := max(3*m.logs.body(), logWindowMin)
	check := func(what string) {
		t.Helper()
		if len(m.logs.win) > limit {
			t.Fatalf("%s: %d lines in memory, limit %d", what, len(m.logs.win), limit)
		}
		out := m.render()
		want := "(" + itoa(m.logs.off+1) + "/1000000)"
		if !strings.Contains(out, want) {
			t.Fatalf("%s: line %d not on screen:\n%s", what, m.logs.off+1, cleanScreen(out))
		}
	}
	press(t, m, "g")
	check("top")
	for range 50 {
		press(t, m, "pgdown")
	}
	check("pages")
	press(t, m, "G")
	check("end")
	press(t, m, "g", "/")
	typeText(t, m, "needle-500000")
	press(t, m, "enter")
	if m.logs.match != 499_999 {
		t.Fatalf("search found line %d (%s)", m.logs.match, m.logs.status)
	}
	check("search")
	press(t, m, "n")
	if m.logs.match != 499_999 {
		t.Fatalf("next match %d, want the same single match", m.logs.match)
	}
	press(t, m, "N")
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 64<<20 {
		t.Errorf("heap grew by %d MB walking a 1M-line log", grow>>20)
	}
}

// TestFilesLargeTree opens a 100k-change snapshot and folds, filters,
// sorts and searches it.
func TestFilesLargeTree(t *testing.T) {
	f := newFixture()
	m := newTestModel(t, f.be, 200, 60, bigEvents(f, 100_000)...)
	press(t, m, "up", "up", "up", "up", "3")
	if m.files.tree == nil {
		t.Fatal("no tree")
	}
	if got := m.files.tree.stats.Added + m.files.tree.stats.Modified + m.files.tree.stats.Deleted; got != len(m.b.steps[1].snap.Changes) {
		t.Fatalf("stats count %d changes", got)
	}
	press(t, m, "f", "f") // modified only
	for _, n := range m.files.vis {
		if nd := &m.files.tree.nodes[n]; !nd.dir && nd.mark != 2 {
			t.Fatalf("filter modified shows %s (%v)", nd.path, nd.mark)
		}
	}
	press(t, m, "f", "f", "o", "/") // back to all, sort by size
	typeText(t, m, "file099999")
	press(t, m, "enter")
	if cur := m.files.current(); cur < 0 || m.files.tree.nodes[cur].name != "file099999.so" {
		t.Fatalf("search cursor on %v", cur)
	}
	if !strings.Contains(m.render(), "file099999.so") {
		t.Fatal("match not on screen")
	}
}
