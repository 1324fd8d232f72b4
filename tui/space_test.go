package tui

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest/v2"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/space"
	"github.com/strata-build/strata/layers"
)

// spaceBackend is the fake backend with the analysis: space.Analyze (the
// real one) over change lists and digests held in memory, the layer
// sizes made up; gate, when set, holds the analysis until closed.
type spaceBackend struct {
	*fakeBackend
	changes map[v1.Hash][]layers.Change
	digests map[string]string // "diffID path" → digest
	gate    chan struct{}
}

type memSpaceSource struct {
	b  *spaceBackend
	in []space.Layer
}

func (s memSpaceSource) Changes(i int) ([]layers.Change, error) {
	return s.b.changes[s.in[i].DiffID], nil
}

func (s memSpaceSource) Digest(i int, p string) (string, error) {
	if d, ok := s.b.digests[s.in[i].DiffID.String()+" "+p]; ok {
		return d, nil
	}
	return "", fmt.Errorf("no content for %s", p)
}

func (b *spaceBackend) Space(ctx context.Context, c *space.Collector) (*space.Analysis, error) {
	if b.gate != nil {
		<-b.gate
	}
	id, in, rule, ok := c.Image()
	if !ok {
		return nil, fmt.Errorf("no image")
	}
	a := space.Analyze(in, memSpaceSource{b, in})
	a.ImageID, a.BaseRule = id, rule
	for i := range a.Layers {
		l := &a.Layers[i]
		l.TarBytes = l.Content + 10240
		l.Compressed = l.TarBytes * 6 / 10
	}
	a.Sum()
	return a, nil
}

const spaceDockerfile = `FROM debian:12
RUN apt-get update && apt-get install -y gcc && make -C /tmp/build
COPY app /app/bin
RUN chmod 755 /app/bin && rm -rf /tmp/build /etc/motd.big
CMD ["/app/bin"]
`

// spaceEvents is a build of spaceDockerfile on one base layer; its
// wastes: /tmp/build (7 MB in 2 files) deleted, /app/bin (2 MB) copied up
// by chmod, the base image's /etc/motd.big (300 kB) deleted.
func spaceEvents(be *spaceBackend) []event.Event {
	steps := []event.StepInfo{
		step(0, 5, "FROM", "FROM debian:12", 1, false),
		step(1, 5, "RUN", "RUN apt-get update && apt-get install -y gcc && make -C /tmp/build", 2, false),
		step(2, 5, "COPY", "COPY app /app/bin", 3, false),
		step(3, 5, "RUN", "RUN chmod 755 /app/bin && rm -rf /tmp/build /etc/motd.big", 4, false),
		step(4, 5, "CMD", `CMD ["/app/bin"]`, 5, true),
	}
	reg := func(p string, n int64) layers.Change {
		return layers.Change{Path: p, Kind: layers.Added, Type: layers.TypeRegular, Size: n, Mode: 0o644}
	}
	dir := func(p string) layers.Change {
		return layers.Change{Path: p, Kind: layers.Added, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755}
	}
	ids := []v1.Hash{hash("base"), hash("run"), hash("copy"), hash("chmod")}
	lists := [][]layers.Change{
		{dir("/bin"), reg("/bin/bash", 1_200_000), dir("/etc"), reg("/etc/motd.big", 300_000), dir("/tmp")},
		{dir("/tmp/build"), reg("/tmp/build/a.o", 2_000_000), reg("/tmp/build/obj.o", 5_000_000),
			dir("/usr"), dir("/usr/lib"), dir("/usr/lib/gcc"), reg("/usr/lib/gcc/cc1", 30_000_000),
			dir("/var"), dir("/var/lib"), dir("/var/lib/apt"), dir("/var/lib/apt/lists"), reg("/var/lib/apt/lists/deb_Packages", 9_000_000)},
		{dir("/app"), reg("/app/bin", 2_000_000)},
		{{Path: "/app/bin", Kind: layers.Modified, Type: layers.TypeRegular, Size: 2_000_000, Mode: 0o755},
			{Path: "/etc/motd.big", Kind: layers.Deleted, Type: layers.TypeRegular},
			{Path: "/tmp/build", Kind: layers.Deleted, Type: layers.TypeDir}},
	}
	be.changes = map[v1.Hash][]layers.Change{}
	be.digests = map[string]string{
		ids[2].String() + " /app/bin": "sha256:app", ids[3].String() + " /app/bin": "sha256:app",
	}
	for i, id := range ids {
		be.changes[id] = lists[i]
	}
	evs := []event.Event{event.PlanReady{Dockerfile: "Dockerfile", Source: []byte(spaceDockerfile), Steps: steps, Stages: []string{"base"}}}
	var parent *event.Snapshot
	c := cfg(nil, nil)
	for i := range steps {
		n := min(i+1, len(ids))
		snap := &event.Snapshot{Layers: ids[:n], Config: c, Parent: parent, Step: i}
		done := event.StepDone{Step: i, ImageID: digest(fmt.Sprint("img", i)), Snapshot: snap}
		if i > 0 && i < len(ids) {
			snap.DiffID, snap.Changes = ids[i], lists[i]
			done.DiffID, done.Files, done.Stats = ids[i].String(), len(lists[i]), layers.Stats(lists[i])
			done.Size = done.Stats.Bytes + 10240
		}
		evs = append(evs, event.StepStarted{Step: i}, done)
		parent = snap
	}
	return append(evs, event.BuildDone{ImageID: digest("img4"), Size: 50_000_000, Layers: 4, Built: 5})
}

func screenOf(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	ch := make(chan string, 1)
	tm.Send(probeMsg{f: func(m *model) { ch <- m.render() }})
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no screen within 5s")
		return ""
	}
}

// TestSpaceScreens: the Space tab while the analysis runs and after it
// (the stacked bar and the ranked wastes), and enter on a waste opening
// its path in the step that shipped it, marked in the Files tab.
func TestSpaceScreens(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			be := &spaceBackend{fakeBackend: newFakeBackend(), gate: make(chan struct{})}
			tm := startFlowOpt(t, Options{Events: feed(spaceEvents(be), true), Backend: be, Title: "space"}, sz.w, sz.h)
			waitText(t, tm, "build complete")
			tm.Send(keyMsg("9"))
			waitText(t, tm, "analysing…")
			name := fmt.Sprintf("%dx%d", sz.w, sz.h)
			requireGolden(t, "screen-space-analysing-"+name, screenOf(t, tm))
			close(be.gate)
			waitText(t, tm, "3 wastes, the most bytes first")
			requireGolden(t, "screen-space-"+name, screenOf(t, tm))
			tm.Send(keyMsg("enter"))
			waitModel(t, tm, "the Files tab of line 2 on /tmp/build", func(m *model) bool {
				n := m.files.current()
				return m.tab == tabFiles && m.sel == 1 && n >= 0 && m.files.tree.nodes[n].path == "/tmp/build"
			})
			scr := screenOf(t, tm)
			if !strings.Contains(cleanScreen(scr), "7.0 MB wasted: deleted later") {
				t.Errorf("no waste marker on /tmp/build:\n%s", cleanScreen(scr))
			}
			requireGolden(t, "screen-space-files-"+name, scr)
			tm.Send(keyMsg("q"))
			m := finalModel(t, tm)
			a := m.space.Analysis()
			if a == nil || a.Image.Wasted != 7_000_000+2_000_000+300_000 || a.BaseImg.Wasted != 300_000 || len(a.Findings) != 2 {
				t.Errorf("analysis %+v", a)
			}
		})
	}
}

// TestSpaceFilesDeletedSize: the Files tab of the step that deletes shows
// the size its deletion left shipped below, and the marker.
func TestSpaceFilesDeletedSize(t *testing.T) {
	be := &spaceBackend{fakeBackend: newFakeBackend()}
	tm := startFlowOpt(t, Options{Events: feed(spaceEvents(be), true), Backend: be, Title: "space"}, 120, 40)
	waitText(t, tm, "build complete")
	tm.Send(keyMsg("9"))
	waitText(t, tm, "3 wastes")
	tm.Send(openWasteMsg{step: 3, path: "/tmp/build"})
	waitText(t, tm, "7.0 MB  ", "build/ ✗ still shipped below", "bin ✗ 2.0 MB shipped twice (metadata)", "300.0 kB      motd.big ✗ still shipped below")
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
}

// TestSpaceKeysWhileAnalysing: keys are answered while the analysis of
// 100,000 files in 20 layers runs (it runs in a Cmd, off the UI's
// goroutine); it reports the slowest key-to-screen time and fails above
// 16 ms at the median.
func TestSpaceKeysWhileAnalysing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	be := &spaceBackend{fakeBackend: newFakeBackend()}
	evs := spaceEvents(be)
	// 20 layers of 5,000 files each under the build's layers.
	var in []space.Layer
	for l := range 20 {
		id := hash(fmt.Sprint("big", l))
		var cs []layers.Change
		for f := range 5000 {
			cs = append(cs, layers.Change{Path: fmt.Sprintf("/l%d/f%d", l, f), Kind: layers.Added, Type: layers.TypeRegular, Size: int64(100 + f)})
		}
		if l > 0 {
			for f := 0; f < 5000; f += 10 {
				cs = append(cs, layers.Change{Path: fmt.Sprintf("/l%d/f%d", l-1, f), Kind: layers.Deleted})
			}
		}
		be.changes[id] = cs
		in = append(in, space.Layer{DiffID: id, Step: 1, Line: 2})
	}
	m := newModel(Options{Backend: be})
	m.c.now = func() time.Time { return t0 }
	for _, ev := range evs {
		m.Update(eventsMsg{evs: []event.Event{ev}})
	}
	m.Update(keyMsg("9"))
	done := make(chan time.Duration)
	go func() {
		s := time.Now()
		space.Analyze(in, memSpaceSource{be, in})
		done <- time.Since(s)
	}()
	var times []time.Duration
	var took time.Duration
	for took == 0 {
		s := time.Now()
		m.Update(keyMsg("j"))
		_ = m.render()
		times = append(times, time.Since(s))
		select {
		case took = <-done:
		default:
		}
	}
	slowest, sum := time.Duration(0), time.Duration(0)
	for _, d := range times {
		slowest, sum = max(slowest, d), sum+d
	}
	sorted := append([]time.Duration(nil), times...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j] < sorted[i] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	med := sorted[len(sorted)/2]
	t.Logf("analysis of 100,000 files took %v; %d keys meanwhile: median %v, slowest %v", took, len(times), med, slowest)
	if med > 16*time.Millisecond {
		t.Errorf("median key-to-screen %v while analysing, want ≤ 16ms", med)
	}
}

// TestSpaceClick: a click on a row of the list selects it; a second click
// opens it in its step.
func TestSpaceClick(t *testing.T) {
	be := &spaceBackend{fakeBackend: newFakeBackend()}
	tm := startFlowOpt(t, Options{Events: feed(spaceEvents(be), true), Backend: be, Title: "space"}, 120, 40)
	waitText(t, tm, "build complete")
	tm.Send(keyMsg("9"))
	waitText(t, tm, "3 wastes")
	tm.Send(probeMsg{f: func(m *model) { m.space.Click(m.space.headRows() + 2) }})
	waitModel(t, tm, "the second row selected", func(m *model) bool { return m.space.cursor == 1 })
	tm.Send(probeMsg{f: func(m *model) {
		if cmd := m.space.Click(m.space.headRows() + 2); cmd != nil {
			go tm.Send(cmd())
		}
	}})
	waitModel(t, tm, "/app/bin opened in line 3's step", func(m *model) bool {
		n := m.files.current()
		return m.tab == tabFiles && m.sel == 2 && n >= 0 && m.files.tree.nodes[n].path == "/app/bin"
	})
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
}
