package tui

import (
	"fmt"
	"io/fs"
	"runtime"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// bigChanges is a change list of n files in a realistic tree shape
// (/usr/lib/pkgNNN/subNN/fileNNNNN), plus their directories.
func bigChanges(n int) []layers.Change {
	out := make([]layers.Change, 0, n+n/50)
	for i := 0; i < n; i++ {
		pkg, sub := i/1000, (i/50)%20
		if i%1000 == 0 {
			out = append(out, layers.Change{Path: fmt.Sprintf("/usr/lib/pkg%03d", pkg), Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755})
		}
		if i%50 == 0 {
			out = append(out, layers.Change{Path: fmt.Sprintf("/usr/lib/pkg%03d/sub%02d", pkg, sub), Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755})
		}
		k := layers.Added
		switch i % 10 {
		case 7:
			k = layers.Modified
		case 9:
			k = layers.Deleted
		}
		out = append(out, layers.Change{Path: fmt.Sprintf("/usr/lib/pkg%03d/sub%02d/file%06d.so", pkg, sub, i), Kind: k, Type: layers.TypeRegular, Size: int64(1000 + i%5000), Mode: 0o644})
	}
	return out
}

// bigEvents is the fixture build with the RUN step's snapshot replaced by
// one of n changed files, and without live log lines.
func bigEvents(f *fixture, n int) []event.Event {
	var evs []event.Event
	for _, e := range f.events() {
		switch x := e.(type) {
		case event.StepLog:
			continue
		case event.StepDone:
			if x.Step == 1 {
				snap := *x.Snapshot
				snap.Changes = bigChanges(n)
				x.Snapshot = &snap
				x.Stats = layers.Stats(snap.Changes)
				x.Files = len(snap.Changes)
				e = x
			}
		}
		evs = append(evs, e)
	}
	return evs
}

var sizes = []struct {
	name string
	n    int
}{{"baseline-1k", 1000}, {"100k", 100_000}}

// BenchmarkFilesOpen: opening the Files tab on a snapshot of n changed
// files (build the tree in the load Cmd, apply it, render). Target for
// 100k: ≤300 ms.
func BenchmarkFilesOpen(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			f := newFixture()
			m := newTestModel(b, f.be, 200, 60, bigEvents(f, sz.n)...)
			press(b, m, "up", "up", "up", "up") // the RUN step
			snap := m.b.steps[1].snap
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				files := newFiles(m.c, f.be)
				files.SetSize(198, 30)
				files.SetStep(1, snap)
				msg := files.Load()()
				files, _ = files.Update(msg)
				_ = files.View()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/open")
		})
	}
}

// BenchmarkFilesKey: one key press (Update + View of the whole screen) on
// the Files tab of a 100k-change snapshot at 200×60. Target: ≤16 ms.
func BenchmarkFilesKey(b *testing.B) {
	for _, sz := range sizes {
		for _, k := range []string{"j", "enter"} { // move; fold/unfold a directory (re-lists the tree)
			b.Run(sz.name+"/"+k, func(b *testing.B) {
				f := newFixture()
				m := newTestModel(b, f.be, 200, 60, bigEvents(f, sz.n)...)
				press(b, m, "up", "up", "up", "up", "3")
				if m.files.tree == nil || len(m.files.vis) < 100 {
					b.Fatalf("tree not loaded: %d rows", len(m.files.vis))
				}
				// worst case: every directory unfolded, so a fold re-lists
				// every row
				for i := range m.files.expanded {
					m.files.expanded[i] = true
				}
				m.files.flatten()
				press(b, m, "j", "j") // onto a directory (usr/lib)
				msg := keyMsg(k)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if k == "j" && m.files.cursor >= len(m.files.vis)-1 {
						m.files.cursor = 0
					}
					m.Update(msg)
					_ = m.View()
				}
			})
		}
	}
}

// BenchmarkLogPage: page down through a step log of n lines (1,000,000 via
// the fake backend) and render the screen; the window fetch runs in the
// loop too. heap-MB is the live heap after the run: bounded, not O(lines).
func BenchmarkLogPage(b *testing.B) {
	for _, sz := range []struct {
		name string
		n    int
	}{{"baseline-1k", 1000}, {"1M", 1_000_000}} {
		b.Run(sz.name, func(b *testing.B) {
			f := newFixture()
			f.be.synth[1] = sz.n
			m := newTestModel(b, f.be, 200, 60, bigEvents(f, 10)...)
			press(b, m, "up", "up", "up", "up", "1", "g")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if m.logs.off >= sz.n-m.logs.body() {
					press(b, m, "g")
				}
				press(b, m, "pgdown")
				_ = m.View()
			}
			b.StopTimer()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
		})
	}
}
