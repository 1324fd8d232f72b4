package tui

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

// A step of a million files: its snapshot carries counts only, and the
// Files tab reads the list from the layer's changes.json in the store, as
// it does for a real build.

// storedLayer commits a layer whose change list is changes (its tar is
// empty: the Files tab of a step reads only the list) and returns the
// snapshot a build would send for it: counts, not the list.
func storedLayer(t testing.TB, store *layers.Store, changes []layers.Change) *event.Snapshot {
	t.Helper()
	dir := t.TempDir()
	// an empty tar (its end blocks), then the list's length: lists of
	// other lengths make other layers
	empty := binary.BigEndian.AppendUint64(make([]byte, 1024), uint64(len(changes)))
	tarFile := filepath.Join(dir, "layer.tar")
	if err := os.WriteFile(tarFile, empty, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(empty)
	cf, err := os.Create(filepath.Join(dir, "changes.json"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(cf)
	w.WriteByte('[')
	for i := range changes {
		if i > 0 {
			w.WriteByte(',')
		}
		b, err := json.Marshal(&changes[i])
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	w.WriteByte(']')
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := cf.Close(); err != nil {
		t.Fatal(err)
	}
	stats := layers.Stats(changes)
	m, err := store.CommitLayer(&layers.PendingLayer{Tar: tarFile, DiffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		Size: int64(len(empty)), ChangesFile: cf.Name(), Files: len(changes), Stats: stats})
	if err != nil {
		t.Fatal(err)
	}
	return &event.Snapshot{Layers: []v1.Hash{m.DiffID}, DiffID: m.DiffID, Stats: &stats, Files: len(changes)}
}

// storeBackend is the fixture's backend with the store's change lists:
// the step's list comes through snapshot.Backend.StepChanges.
type storeBackend struct {
	*fakeBackend
	real *snapshot.Backend
}

func (b storeBackend) RemoteLayers(snap *event.Snapshot) []snapshot.RemoteLayer {
	return b.real.RemoteLayers(snap)
}

func (b storeBackend) FetchLayers(snap *event.Snapshot, progress func(snapshot.FetchProgress)) error {
	return b.real.FetchLayers(snap, progress)
}

func (b storeBackend) StepChanges(snap *event.Snapshot) ([]layers.Change, error) {
	return b.real.StepChanges(snap)
}

func (b storeBackend) EachStepChange(snap *event.Snapshot, fn func(*layers.Change) error) error {
	return b.real.EachStepChange(snap, fn)
}

// storedEvents is bigEvents with the RUN step's snapshot a stored layer of
// n changes: the event carries its counts, not the list.
func storedEvents(t testing.TB, f *fixture, n int) ([]event.Event, storeBackend) {
	t.Helper()
	store := testutil.TempStore(t, layers.Open)
	changes := bigChanges(n)
	// times as a COPY keeps them (to the nanosecond, UTC): their share of
	// reading the list is not small
	mt := time.Date(2026, 12, 3, 18, 20, 10, 0, time.UTC)
	for i := range changes {
		changes[i].ModTime = mt.Add(time.Duration(i) * 1234567)
	}
	stored := storedLayer(t, store, changes)
	return stepEvents(f, stored), storeBackend{fakeBackend: f.be, real: snapshot.NewBackend(store, nil)}
}

// stepEvents is bigEvents with the RUN step's snapshot stored's layers
// and counts, without the list.
func stepEvents(f *fixture, stored *event.Snapshot) []event.Event {
	var evs []event.Event
	for _, e := range f.events() {
		switch x := e.(type) {
		case event.StepLog:
			continue
		case event.StepDone:
			if x.Step == 1 {
				snap := *x.Snapshot
				snap.Layers, snap.DiffID, snap.Stats, snap.Files, snap.Changes = stored.Layers, stored.DiffID, stored.Stats, stored.Files, nil
				x.Snapshot = &snap
				x.Stats, x.Files = *stored.Stats, stored.Files
				e = x
			}
		}
		evs = append(evs, e)
	}
	return evs
}

// TestFilesReadsStoredList: a step whose snapshot carries counts only
// opens its Files tab on the list kept with its layer: every change is in
// the tree, with the counts the build sent.
func TestFilesReadsStoredList(t *testing.T) {
	f := newFixture()
	evs, be := storedEvents(t, f, 20_000)
	m := newTestModel(t, be, 200, 60, evs...)
	press(t, m, "up", "up", "up", "up", "3")
	if m.files.tree == nil {
		t.Fatalf("no tree: %s", m.render())
	}
	want := bigChanges(20_000)
	if got := m.files.tree.stats; got != layers.Stats(want) {
		t.Errorf("tree counts %+v, want the stored list's %+v", got, layers.Stats(want))
	}
	if r := m.b.steps[1]; r.files != len(want) || r.stats != layers.Stats(want) || r.unread {
		t.Errorf("step row: %d files %+v unread %v, want %d %+v", r.files, r.stats, r.unread, len(want), layers.Stats(want))
	}
	last := want[len(want)-1].Path
	found := false
	for i := range m.files.tree.nodes {
		found = found || m.files.tree.nodes[i].path == last
	}
	if !found {
		t.Errorf("the tree has no %s, the list's last change", last)
	}
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFilesHugeStep opens the Files tab of a step of 1,000,000
// changed files read from the store (load, build the tree, render), then
// times the keys on it: down, page down, enter on a directory, left
// (collapse, back). Targets (issue 17): open ≤ 1 s, each key ≤ 16 ms.
func BenchmarkFilesHugeStep(b *testing.B) {
	f := newFixture()
	evs, be := storedEvents(b, f, 1_000_000)
	m := newTestModel(b, be, 200, 60, evs...)
	press(b, m, "up", "up", "up", "up")
	b.ResetTimer()
	var open, openCPU time.Duration
	keys := []string{"down", "pgdown", "enter", "left"}
	worst := make([]time.Duration, len(keys))
	for range b.N {
		press(b, m, "2")
		t0, c0 := time.Now(), cpuTime()
		press(b, m, "3")
		_ = m.View()
		open, openCPU = max(open, time.Since(t0)), max(openCPU, cpuTime()-c0)
		if m.files.tree == nil || len(m.files.tree.nodes) < 1_000_000 {
			b.Fatalf("tree not loaded: %v", m.files.tree != nil)
		}
		press(b, m, "down", "down") // onto usr/lib, a directory
		for i, k := range keys {
			t0 := time.Now()
			press(b, m, k)
			_ = m.View()
			worst[i] = max(worst[i], time.Since(t0))
		}
	}
	b.ReportMetric(float64(open.Milliseconds()), "ms/open")
	b.ReportMetric(float64(openCPU.Milliseconds()), "cpu-ms/open") // the process's, GC included: the wall time on an idle machine
	for i, k := range keys {
		b.ReportMetric(float64(worst[i].Microseconds())/1000, "ms/"+k)
	}
}

// TestFilesHugeStepOpen: the Files tab of a step of 1,000,000 changed
// files read from the store opens (load, build the tree, first render)
// in at most a second (issue 17), and its keys each take at most 16 ms.
// The bound is on the CPU time the process spends (GC included), best of
// three opens: on an idle machine that is the wall time or more (the load
// runs on one goroutine; GC's share on the other core only adds CPU), and
// unlike the wall time it does not grow when other work shares the cores,
// so a loaded CI machine does not fail it. The wall time is logged.
func TestFilesHugeStepOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("a million-entry change list: not in -short")
	}
	const n = 1_000_000
	f := newFixture()
	evs, be := storedEvents(t, f, n)
	best, bestWall := time.Duration(1<<62), time.Duration(0)
	var m *model
	for range 3 {
		m = newTestModel(t, be, 200, 50, evs...)
		press(t, m, "up", "up", "up", "up")
		runtime.GC() // the garbage of making the list and of the last open is not this open's
		t0, c0 := time.Now(), cpuTime()
		press(t, m, "3")
		_ = m.View()
		wall, cpu := time.Since(t0), cpuTime()-c0
		t.Logf("open: %v wall, %v CPU", wall, cpu)
		if m.files.tree == nil || len(m.files.tree.nodes) < n {
			t.Fatalf("the tree was not loaded: %s", m.render())
		}
		if cpu < best {
			best, bestWall = cpu, wall
		}
	}
	if best > time.Second {
		t.Errorf("opening the Files tab of %d files took %v of CPU (%v wall) at best of 3, want ≤ 1s", n, best, bestWall)
	}
	press(t, m, "down", "down") // onto usr/lib, a directory
	keysWithin16ms(t, m, fmt.Sprintf("a tree of %d files", n))
}

// keysWithin16ms presses down, pgdown, enter, left, end and home on m,
// each timed with its View, and fails on a key over 16 ms twice in a row
// (one retry: a key is a few ms, a scheduler pause is not its cost).
func keysWithin16ms(t *testing.T, m *model, what string) {
	t.Helper()
	for _, k := range []string{"down", "pgdown", "enter", "left", "end", "home"} {
		t0 := time.Now()
		press(t, m, k)
		_ = m.View()
		d := time.Since(t0)
		t.Logf("key %s: %v", k, d)
		if d > 16*time.Millisecond {
			t0 = time.Now()
			press(t, m, k)
			_ = m.View()
			if d2 := time.Since(t0); d2 > 16*time.Millisecond {
				t.Errorf("key %s took %v then %v on %s, want ≤ 16ms", k, d, d2, what)
			}
		}
	}
}
