package tui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

// The whole-filesystem view (w in the Files tab) of a huge image: merged
// from the layers' change lists (snapshot.Backend.EachTreeEntry) or
// walked (snapshot.Backend.Tree).

// mergeBackend is storeBackend whose whole filesystem is the store's,
// merged from the change lists (the walk where they cannot be).
type mergeBackend struct{ storeBackend }

func (b mergeBackend) Tree(snap *event.Snapshot) ([]layers.Change, error) {
	return b.real.Tree(snap)
}

func (b mergeBackend) TreeSize(snap *event.Snapshot) int { return b.real.TreeSize(snap) }

func (b mergeBackend) EachTreeEntry(snap *event.Snapshot, fn func(*layers.Change) error) error {
	return b.real.EachTreeEntry(snap, fn)
}

// walkBackend is storeBackend whose whole filesystem is the store's,
// always walked (as before the merge).
type walkBackend struct{ storeBackend }

func (b walkBackend) Tree(snap *event.Snapshot) ([]layers.Change, error) {
	return b.real.Tree(snap)
}

// chainEvents is bigEvents with the RUN step's snapshot the chain (base
// first) whose last layer pl made.
func chainEvents(f *fixture, chain []v1.Hash, pl *layers.PendingLayer) []event.Event {
	st := pl.Stats
	return stepEvents(f, &event.Snapshot{Layers: chain, DiffID: chain[len(chain)-1], Stats: &st, Files: pl.Files})
}

// hugeBase is a base layer's list of about n files (bigChanges' paths, all
// added), and a step's over it: 1,000 files of /usr/lib/pkg000 modified,
// /usr/lib/pkg001 deleted, /opt/new added with 1,000 files.
func hugeLists(n int) (base, step []layers.Change) {
	base = bigChanges(n)
	for i := range base {
		base[i].Kind = layers.Added
	}
	dir := func(p string, k layers.ChangeKind) layers.Change {
		return layers.Change{Path: p, Kind: k, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755}
	}
	step = append(step, dir("/opt", layers.Added), dir("/opt/new", layers.Added))
	for i := range 1000 {
		step = append(step, layers.Change{Path: fmt.Sprintf("/opt/new/f%04d", i), Kind: layers.Added, Type: layers.TypeRegular, Size: 10, Mode: 0o644})
	}
	step = append(step, dir("/usr", layers.Modified), dir("/usr/lib", layers.Modified))
	for _, c := range bigChanges(1000) {
		c.Kind = layers.Modified
		c.Size++
		step = append(step, c)
	}
	step = append(step, layers.Change{Path: "/usr/lib/pkg001", Kind: layers.Deleted, Type: layers.TypeDir})
	return base, step
}

// TestFilesWholeViewHugeOpen: the whole-filesystem view of a step over a
// base of 1,000,000 files, merged from the layers' change lists, opens in
// at most a second of CPU (best of 3, as TestFilesHugeStepOpen), with
// the step's changes marked, and its keys each take at most 16 ms.
func TestFilesWholeViewHugeOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("a million-entry change list: not in -short")
	}
	const n = 1_000_000
	f := newFixture()
	store := testutil.TempStore(t, layers.Open)
	base, step := hugeLists(n)
	mt := time.Date(2026, 12, 3, 18, 20, 10, 0, time.UTC)
	for i := range base {
		base[i].ModTime = mt.Add(time.Duration(i) * 1234567)
	}
	b := storedLayer(t, store, base)
	s := storedLayer(t, store, step)
	snap := &event.Snapshot{Layers: []v1.Hash{b.DiffID, s.DiffID}, DiffID: s.DiffID, Stats: s.Stats, Files: s.Files}
	evs := stepEvents(f, snap)
	_, be := storedEvents(t, f, 1)
	be.real.Store = store
	mb := mergeBackend{be}
	want := len(base) - 1000 - 20 - 1 + 1002 + 2 // pkg001, its subdirs and files gone; /opt and its files added; /usr and /usr/lib are the step's (the base list has none)
	best, bestWall := time.Duration(1<<62), time.Duration(0)
	var m *model
	for range 3 {
		m = newTestModel(t, mb, 200, 50, evs...)
		press(t, m, "up", "up", "up", "up", "3")
		runtime.GC()
		t0, c0 := time.Now(), cpuTime()
		press(t, m, "w")
		_ = m.View()
		wall, cpu := time.Since(t0), cpuTime()-c0
		t.Logf("whole view: %v wall, %v CPU", wall, cpu)
		if m.files.tree == nil || !m.files.whole {
			t.Fatalf("the whole view was not loaded: %s", m.render())
		}
		if got := m.files.tree.nodes[0].kinds[0]; got != int32(len(step)) || m.files.tree.stats != layers.Stats(step) {
			t.Fatalf("the whole view marks %d changes (%+v), want the step's %d (%+v)", got, m.files.tree.stats, len(step), layers.Stats(step))
		}
		if cpu < best {
			best, bestWall = cpu, wall
		}
	}
	entries := 0
	for i := 1; i < len(m.files.tree.nodes); i++ {
		if m.files.tree.nodes[i].ch.Path != "" && m.files.tree.nodes[i].mark != layers.Deleted {
			entries++
		}
	}
	if entries != want {
		t.Errorf("the whole view has %d entries, want %d", entries, want)
	}
	if best > time.Second {
		t.Errorf("opening the whole view over %d files took %v of CPU (%v wall) at best of 3, want ≤ 1s", n, best, bestWall)
	}
	press(t, m, "down", "down")
	keysWithin16ms(t, m, fmt.Sprintf("a whole tree of %d files", n))
}

// diskChain makes a two-layer chain on disk as a build does: a base of n
// files (bigChanges' paths) and a step over it that modifies 1,000 files
// of /usr/lib/pkg000, deletes /usr/lib/pkg001 and adds /opt/new with
// 1,000 files, each an upper dir diffed into a layer and kept unpacked.
func diskChain(t testing.TB, store *layers.Store, n int) ([]v1.Hash, *layers.PendingLayer) {
	t.Helper()
	testutil.RequireRoot(t, "whiteouts are device nodes")
	var chain []v1.Hash
	var last *layers.PendingLayer
	commit := func(upper string) {
		pl, err := layers.DiffLayer(upper, store.View(chain).Lowers, t.TempDir(), layers.DiffOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pl.FS = upper
		st, files := pl.Stats, pl.Files
		meta, err := store.CommitLayer(pl)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, meta.DiffID)
		last = &layers.PendingLayer{Stats: st, Files: files}
	}
	write := func(upper string, cs []layers.Change) {
		for _, c := range cs {
			p := filepath.Join(upper, c.Path)
			switch {
			case c.Kind == layers.Deleted:
				if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
					t.Fatal(err)
				}
			case c.Type == layers.TypeDir:
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(p, []byte(strconv.Itoa(int(c.Size))), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	base, step := hugeLists(n)
	for _, cs := range [][]layers.Change{base, step} {
		upper := filepath.Join(store.Root(), "tmp", fmt.Sprintf("upper-%d", len(chain)))
		if err := os.MkdirAll(filepath.Join(upper, "usr/lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(upper, cs)
		commit(upper)
	}
	return chain, last
}

// wholeOpen opens the whole view of evs' RUN step on be: the time of the
// key w and the first render after it, wall and CPU.
func wholeOpen(t testing.TB, be Backend, evs []event.Event) (m *model, wall, cpu time.Duration) {
	m = newTestModel(t, be, 200, 50, evs...)
	press(t, m, "up", "up", "up", "up", "3")
	runtime.GC()
	t0, c0 := time.Now(), cpuTime()
	press(t, m, "w")
	_ = m.View()
	wall, cpu = time.Since(t0), cpuTime()-c0
	if m.files.tree == nil || !m.files.whole {
		t.Fatalf("the whole view was not loaded: %s", m.render())
	}
	return m, wall, cpu
}

// TestFilesWholeViewMergedIsWalked: on layers made on disk as a build
// makes them, the whole view merged from their change lists is the walked
// one: the same tree, node for node, and the same screens.
func TestFilesWholeViewMergedIsWalked(t *testing.T) {
	f := newFixture()
	store := testutil.TempStore(t, layers.Open)
	chain, pl := diskChain(t, store, 5000)
	evs := chainEvents(f, chain, pl)
	_, sb := storedEvents(t, f, 1)
	sb.real.Store = store
	sameWhole(t, mergeBackend{sb}, walkBackend{sb}, evs)
}

// TestFilesWholeViewListOutOfOrder: a layer whose change list is not in
// walk order is not merged: the whole view is the walk's.
func TestFilesWholeViewListOutOfOrder(t *testing.T) {
	f := newFixture()
	store := testutil.TempStore(t, layers.Open)
	chain, pl := diskChain(t, store, 200)
	top := chain[len(chain)-1]
	list, err := store.LayerChanges(top)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(list)
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store.Root(), "layers", top.Hex, "changes.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	evs := chainEvents(f, chain, pl)
	_, sb := storedEvents(t, f, 1)
	sb.real.Store = store
	if err := sb.real.EachTreeEntry(&event.Snapshot{Layers: chain}, func(*layers.Change) error { return nil }); !errors.Is(err, layers.ErrNoMerge) {
		t.Fatalf("merging a list out of order: %v, want ErrNoMerge", err)
	}
	sameWhole(t, mergeBackend{sb}, walkBackend{sb}, evs)
}

// sameWhole: the whole views of evs' RUN step on be and on walk are the
// same tree, node for node, and the same screens.
func sameWhole(t *testing.T, be, walk Backend, evs []event.Event) {
	t.Helper()
	mm, _, _ := wholeOpen(t, be, evs)
	wm, _, _ := wholeOpen(t, walk, evs)
	mt, wt := mm.files.tree, wm.files.tree
	if len(mt.nodes) != len(wt.nodes) {
		t.Fatalf("merged tree of %d nodes, walked one of %d", len(mt.nodes), len(wt.nodes))
	}
	for i := range mt.nodes {
		a, b := mt.nodes[i], wt.nodes[i]
		a.ch.ModTime, b.ch.ModTime = a.ch.ModTime.UTC(), b.ch.ModTime.UTC()
		if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
			t.Fatalf("node %d: merged %+v, walked %+v", i, a, b)
		}
	}
	for _, k := range []string{"", "down", "enter", "pgdown", "end"} {
		if k != "" {
			press(t, mm, k)
			press(t, wm, k)
		}
		if a, b := mm.render(), wm.render(); a != b {
			t.Fatalf("after %q the screens differ:\nmerged:\n%s\nwalked:\n%s", k, a, b)
		}
	}
}

// TestFilesWholeViewWalkVsMerge measures the whole view of a step over a
// base of STRATA_WHOLE_FILES files on disk (a comma-separated list, e.g.
// 200000,1000000), walked and merged, best of 3 each: a measurement, not
// run without the variable.
func TestFilesWholeViewWalkVsMerge(t *testing.T) {
	sizes := os.Getenv("STRATA_WHOLE_FILES")
	if sizes == "" {
		t.Skip("set STRATA_WHOLE_FILES=200000,1000000 to measure (writes that many files)")
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("STRATA_WHOLE_FILES: %q is not a number", s)
		}
		f := newFixture()
		store := testutil.TempStore(t, layers.Open)
		t0 := time.Now()
		chain, pl := diskChain(t, store, n)
		t.Logf("%d files: the chain made in %v", n, time.Since(t0))
		evs := chainEvents(f, chain, pl)
		_, sb := storedEvents(t, f, 1)
		sb.real.Store = store
		for _, side := range []struct {
			name string
			be   Backend
		}{{"walk", walkBackend{sb}}, {"merge", mergeBackend{sb}}, {"walk", walkBackend{sb}}, {"merge", mergeBackend{sb}}, {"merge, the base without its list (as imported)", mergeBackend{sb}}} {
			if strings.Contains(side.name, "imported") {
				// the base then keeps no list: its own tree is walked
				if err := os.Remove(filepath.Join(store.Root(), "layers", chain[0].Hex, "changes.json")); err != nil {
					t.Fatal(err)
				}
			}
			bestW, bestC := time.Duration(1<<62), time.Duration(1<<62)
			var m *model
			for range 3 {
				var wall, cpu time.Duration
				m, wall, cpu = wholeOpen(t, side.be, evs)
				bestW, bestC = min(bestW, wall), min(bestC, cpu)
			}
			var keys []string
			press(t, m, "down", "down")
			for _, k := range []string{"down", "pgdown", "enter", "left", "end", "home"} {
				t0 := time.Now()
				press(t, m, k)
				_ = m.View()
				keys = append(keys, fmt.Sprintf("%s %v", k, time.Since(t0).Round(10*time.Microsecond)))
			}
			t.Logf("%d files, %s: whole view best of 3 %v wall, %v CPU; %d nodes; keys: %s", n, side.name, bestW.Round(time.Millisecond), bestC.Round(time.Millisecond), len(m.files.tree.nodes), strings.Join(keys, ", "))
		}
	}
}
