package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

// smallFilesContext is a build context of n small files, 100 to a
// directory (as bench/run.sh's copy100k) and 100 directories to a parent
// (no directory is wider at 200,000 files than at 20,000: a walk holds
// one directory's listing), with dockerfile.
func smallFilesContext(t *testing.T, n int, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	for d := 0; d*100 < n; d++ {
		sub := filepath.Join(dir, "files", fmt.Sprintf("a%02d", d/100), fmt.Sprintf("d%04d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := d * 100; i < min(n, d*100+100); i++ {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// buildQuiet builds opt.ContextDir into store, its events drained and
// only the steps' miss reasons kept (a test's own list of the events
// would be part of what it measures).
func buildQuiet(t *testing.T, store *layers.Store, opt frontend.Options, runner Runner) (reasons []string) {
	t.Helper()
	p, err := frontend.NewPlan(opt)
	if err != nil {
		t.Fatal(err)
	}
	e := &Executor{Store: store, Plan: p, Opt: opt, Runner: runner}
	ch := make(chan event.Event, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if d, ok := ev.(event.StepDone); ok {
				reasons = append(reasons, d.Reason)
			}
		}
	}()
	_, err = e.Build(context.Background(), ch)
	<-done
	if err != nil {
		t.Fatalf("build failed: %v", err)
	}
	return reasons
}

// TestChecksumMemoryFlat: the checksums of a step's context sources are
// streamed to a sorted sums file (the stat cache read alongside, the last
// build's sums merge-joined for the miss reason), never held as maps: the
// peak heap of a cold build, a no-change rebuild and a one-file-change
// rebuild reading 200,000 small files stays within 1.5 times that of
// 20,000. The step is a RUN with the files bind-mounted (a fake runner):
// it checksums them as a COPY does, and makes no layer, so what is
// measured is the checksums, not a layer's change list.
func TestChecksumMemoryFlat(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("-short: writes 220,000 files")
	}
	assertHeapFlat(t, "FROM scratch\nRUN --mount=type=bind,source=files,target=/files true\n", nil)
}

// assertHeapFlat builds dockerfile over a context of 20,000 and then of
// 200,000 small files (smallFilesContext, plus extra files), cold, again
// without a change and after one file changed (the miss must name it),
// and fails when the peak live heap of any of the three at 200,000 is
// over 1.5 times that at 20,000.
func assertHeapFlat(t *testing.T, dockerfile string, extra map[string][]byte) {
	t.Helper()
	type peaks struct{ cold, same, one uint64 }
	measure := func(n int) peaks {
		ctxDir := smallFilesContext(t, n, dockerfile)
		defer os.RemoveAll(ctxDir)
		for name, b := range extra {
			if err := os.WriteFile(filepath.Join(ctxDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		store := newStore(t)
		opt := frontend.Options{ContextDir: ctxDir}
		var p peaks
		var reasons []string
		build := func() { reasons = buildQuiet(t, store, opt, &fakeRunner{}) }
		// Sampled as often per file at both sizes: the maximum of more
		// samples of the same noise (what the build allocates while a
		// collection runs) would be higher by itself.
		every := time.Duration(n/20000) * 500 * time.Microsecond
		p.cold = peakLiveHeap(build, every)
		p.same = peakLiveHeap(build, every)
		if len(reasons) != 0 {
			t.Fatalf("no-change rebuild built %v", reasons)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, "files", "a00", "d0001", "f000100"), []byte("changed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p.one = peakLiveHeap(build, every)
		if want := "file files/a00/d0001/f000100 changed"; len(reasons) != 1 || reasons[0] != want {
			t.Errorf("one file changed: reasons %q, want %q", reasons, want)
		}
		t.Logf("%d files: peak live heap cold %.1f MiB, no change %.1f MiB, one file changed %.1f MiB",
			n, float64(p.cold)/testutil.MiB, float64(p.same)/testutil.MiB, float64(p.one)/testutil.MiB)
		return p
	}
	small, big := measure(20000), measure(200000)
	for _, c := range []struct {
		what   string
		sm, bg uint64
	}{{"cold", small.cold, big.cold}, {"no-change rebuild", small.same, big.same}, {"one-file-change rebuild", small.one, big.one}} {
		ratio := float64(c.bg) / float64(max(c.sm, 1))
		t.Logf("%s: peak live heap of 200,000 files / 20,000 = %.2f", c.what, ratio)
		if ratio > 1.5 {
			t.Errorf("%s: the peak live heap of 200,000 files is %.2f times that of 20,000 (%.1f / %.1f MiB), want at most 1.5",
				c.what, ratio, float64(c.bg)/testutil.MiB, float64(c.sm)/testutil.MiB)
		}
	}
}

// peakLiveHeap runs f and returns the high-water mark of its live heap
// over what was live before: every period a full collection is forced and
// the heap left after it read, less what was allocated while it ran. Unlike the peak of HeapAlloc
// (testutil.MeasureMem), it holds no garbage, so it does not depend on
// when collections happened to run: the growth it measures is data held.
func peakLiveHeap(f func(), every time.Duration) uint64 {
	// What the build allocates while the collection runs is kept by it
	// (allocated black) whether it is garbage or not: it is taken off, so
	// what is read is what was live when the collection started.
	live := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		start := m.TotalAlloc
		runtime.GC()
		runtime.ReadMemStats(&m)
		during := m.TotalAlloc - start
		if during > m.HeapAlloc {
			return 0
		}
		return m.HeapAlloc - during
	}
	before := live()
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			if l := live(); l > peak.Load() {
				peak.Store(l)
			}
			select {
			case <-stop:
				return
			case <-time.After(every):
			}
		}
	}()
	f()
	close(stop)
	<-done
	if p := peak.Load(); p > before {
		return p - before
	}
	return 0
}
