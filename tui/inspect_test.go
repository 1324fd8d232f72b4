package tui

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

// inspectFixture is what `strata inspect redis:7` sends for the image the
// redis fixture builds: the base image's two history entries, then one
// entry per instruction, as a classic builder and BuildKit wrote them.
func inspectFixture(f *fixture) []event.Event {
	created := []string{
		"/bin/sh -c #(nop) ADD file:5758b97d8301c84a204a6e516241275d785a7cade40b2fb99f01fe122482e283 in / ",
		"/bin/sh -c #(nop)  CMD [\"/bin/sh\"]",
		"RUN /bin/sh -c apk add --update redis # buildkit",
		"COPY redis.conf /etc/redis.conf # buildkit",
		"ENV REDIS_PORT=6379",
		"EXPOSE map[6379/tcp:{}]",
		`CMD ["redis-server" "/etc/redis.conf"]`,
	}
	layerOf := []int{0, -1, 1, 2, -1, -1, -1}
	final := f.snaps[5].Config
	var hist []v1.History
	for i, c := range created {
		hist = append(hist, v1.History{CreatedBy: c, EmptyLayer: layerOf[i] < 0, Created: v1.Time{Time: t0.Add(time.Duration(i) * time.Minute)},
			Comment: map[bool]string{true: "buildkit.dockerfile.v0"}[i >= 2]})
	}
	var src []string
	var steps []event.StepInfo
	for i, c := range created {
		text := snapshot.CleanCreatedBy(c)
		src = append(src, text)
		word, _, _ := strings.Cut(text, " ")
		steps = append(steps, event.StepInfo{Index: i, Number: i + 1, StageSteps: len(created), Kind: event.StepKind(word),
			Text: text, StartLine: i + 1, EndLine: i + 1, MetadataOnly: layerOf[i] < 0})
	}
	evs := []event.Event{event.PlanReady{Dockerfile: "redis:7", Source: []byte(strings.Join(src, "\n") + "\n"), Steps: steps, Stages: []string{"redis:7"}, Inspect: true}}
	sizes := []int64{7_800_000, 1_908_817, 40}
	var parent *event.Snapshot
	n := 0
	for i := range created {
		cfg := *final
		cfg.History = hist[:i+1]
		snap := &event.Snapshot{Config: &cfg, Parent: parent, Step: i}
		done := event.StepDone{Step: i}
		if l := layerOf[i]; l >= 0 {
			n = l + 1
			src := f.snaps[[]int{0, 1, 2}[l]]
			snap.DiffID, snap.Changes = src.DiffID, src.Changes
			done.DiffID, done.Size, done.Files, done.Stats = src.DiffID.String(), sizes[l], len(src.Changes), layers.Stats(src.Changes)
			// the file pager reads through the same fake files as the build's snapshots
			f.be.files[snap] = f.be.files[src]
		}
		snap.Layers = f.snaps[2].Layers[:n]
		cfg.RootFS.DiffIDs = snap.Layers
		if i == len(created)-1 {
			done.ImageID = digest("img5")
		}
		done.Snapshot = snap
		evs = append(evs, done)
		parent = snap
	}
	evs = append(evs, event.BuildDone{ImageID: digest("img5"), Digest: digest("manifest5"), Size: 9_708_857, Layers: 3, Built: len(created)})
	return evs
}

func newInspectModel(t testing.TB, be Backend, w, h int, evs ...event.Event) *model {
	t.Helper()
	m := newModel(Options{Backend: be, Title: "redis:7", HasOutput: true})
	m.c.now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: w, Height: h} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: evs} })
	return m
}

// TestInspectGolden renders `strata inspect`: the history in place of the
// Dockerfile, layers in place of steps, the image summary, and the RUN
// layer's story and files.
func TestInspectGolden(t *testing.T) {
	cases := []struct {
		name string
		keys []string
	}{
		{"inspect", nil},
		{"inspect-step", []string{"g", "j", "j", "2"}},
		{"inspect-files", []string{"g", "j", "j", "3"}},
		{"inspect-meta", []string{"g", "j", "2"}},
	}
	for _, c := range cases {
		for _, sz := range []size{{80, 24}, {120, 40}} {
			t.Run(c.name+"/"+sz.String(), func(t *testing.T) {
				f := newFixture()
				m := newInspectModel(t, f.be, sz.w, sz.h, inspectFixture(f)...)
				press(t, m, c.keys...)
				out := m.render()
				requireGolden(t, "screen-"+c.name+"-"+sz.String(), out)
				checkShape(t, out, sz)
			})
		}
	}
}

// TestInspectTexts: the inspect view never tells a build's story.
func TestInspectTexts(t *testing.T) {
	f := newFixture()
	m := newInspectModel(t, f.be, 120, 40, inspectFixture(f)...)
	press(t, m, "g", "j", "j", "2")
	story := cleanScreen(m.story.View())
	for _, want := range []string{"layer made by: RUN /bin/sh -c apk add --update redis # buildkit", "stacked on the 1 layer below"} {
		if !strings.Contains(story, want) {
			t.Errorf("Step tab lacks %q:\n%s", want, story)
		}
	}
	press(t, m, "1")
	all := cleanScreen(m.render())
	for _, bad := range []string{"temporary container", "cache 0/", "building", "Dockerfile", "0.0s"} {
		if strings.Contains(all, bad) {
			t.Errorf("inspect screen says %q:\n%s", bad, all)
		}
	}
	if !strings.Contains(all, "no log: an image keeps no build output") {
		t.Errorf("Log tab:\n%s", all)
	}
	press(t, m, "6")
	if out := cleanScreen(m.cache.View()); !strings.Contains(out, "not built here") {
		t.Errorf("Cache tab:\n%s", out)
	}
	// S still saves an inspected image (to convert it, say)
	press(t, m, "S")
	if !m.form.active || m.form.image != digest("img5") {
		t.Fatalf("S on an inspected image: form %v image %s", m.form.active, m.form.image)
	}
}

// unsaved is the fixture's build without -t: nothing says where the image
// goes, so the summary offers S.
func unsaved(f *fixture) []event.Event {
	evs := f.events()
	d := evs[len(evs)-1].(event.BuildDone)
	d.Tags = nil
	evs[len(evs)-1] = d
	return evs
}

// TestSaveGolden renders the summary offering S and the save form.
func TestSaveGolden(t *testing.T) {
	cases := []struct {
		name string
		keys []string
	}{
		{"save-offer", nil},
		{"save-form", []string{"S", "o", "c", "i", ":", "/", "t", "m", "p", "/", "x"}},
		{"save-form-empty", []string{"S", "enter"}},
	}
	for _, c := range cases {
		for _, sz := range []size{{80, 24}, {120, 40}} {
			t.Run(c.name+"/"+sz.String(), func(t *testing.T) {
				f := newFixture()
				m := newTestModel(t, f.be, sz.w, sz.h, unsaved(f)...)
				press(t, m, c.keys...)
				out := m.render()
				requireGolden(t, "screen-"+c.name+"-"+sz.String(), out)
				checkShape(t, out, sz)
			})
		}
	}
}

// TestSaveKeys covers the form: offered only without -t/-o, S works anyway,
// esc cancels, errors show in the status line, nothing before the end.
func TestSaveKeys(t *testing.T) {
	help := func(m *model) string { return cleanScreen(strings.Join(m.helpLines(), "\n")) }

	f := newFixture()
	m := newTestModel(t, f.be, 200, 40, unsaved(f)...)
	if !strings.Contains(help(m), "S save image") {
		t.Errorf("help does not offer S without -t/-o: %s", help(m))
	}
	// -t given: not offered, but S opens the form
	f = newFixture()
	m = newTestModel(t, f.be, 200, 40, f.events()...)
	if strings.Contains(help(m), "save image") || strings.Contains(cleanScreen(m.summary.View()), "saves this image") {
		t.Errorf("S offered although the build was tagged:\n%s", help(m))
	}
	press(t, m, "S")
	if !m.form.active {
		t.Fatal("S did not open the form on a tagged build")
	}
	// keys go to the form, not the panes or the global keys
	sel := m.sel
	typeText(t, m, "kq1")
	if m.form.value() != "kq1" || m.sel != sel || m.quitting || m.tab != tabSummary {
		t.Fatalf("typing in the form: value %q sel %d→%d quitting %v tab %s", m.form.value(), sel, m.sel, m.quitting, tabNames[m.tab])
	}
	press(t, m, "esc")
	if m.form.active || len(f.be.saveCalls()) != 0 || !strings.Contains(m.status, "cancelled") {
		t.Errorf("esc: form %v, saves %v, status %q", m.form.active, f.be.saveCalls(), m.status)
	}
	press(t, m, "j")
	if m.status != "" {
		t.Errorf("status %q stays after a key", m.status)
	}

	// a failing save shows its error
	f.be.saveErr = errors.New("oci layout /nope: permission denied")
	press(t, m, "S")
	typeText(t, m, "oci:/nope")
	press(t, m, "enter")
	if got := f.be.saveCalls(); len(got) != 1 || got[0] != (saveCall{digest("img5"), "oci:/nope"}) {
		t.Fatalf("save calls %v", got)
	}
	if m.statusKind != statusErr || !strings.Contains(m.status, "permission denied") || !strings.Contains(cleanScreen(m.render()), "✗ save to oci:/nope failed") {
		t.Errorf("status %q kind %d", m.status, m.statusKind)
	}

	// nothing to save while building or after a failure
	for _, evs := range [][]event.Event{f.running(), f.failing()} {
		f := newFixture()
		m := newTestModel(t, f.be, 100, 30, evs...)
		press(t, m, "S")
		if m.form.active || m.statusKind != statusErr || m.status == "" {
			t.Errorf("S without an image: form %v status %q", m.form.active, m.status)
		}
	}
}

// TestSaveRecorded: a successful save is listed in the summary, which then
// stops offering S.
func TestSaveRecorded(t *testing.T) {
	f := newFixture()
	m := newTestModel(t, f.be, 120, 40, unsaved(f)...)
	press(t, m, "S")
	typeText(t, m, "app:1")
	press(t, m, "enter")
	sum := cleanScreen(m.summary.View())
	if !strings.Contains(sum, "saved       wrote app:1") || strings.Contains(sum, "saves this image") {
		t.Errorf("summary after the save:\n%s", sum)
	}
	if m.statusKind != statusOK || m.status != "✓ saved: wrote app:1" {
		t.Errorf("status %q", m.status)
	}
}

// TestFlowSave: the whole program: the build ends, S, a destination, enter;
// the backend is asked and the status line says it saved.
func TestFlowSave(t *testing.T) {
	f := newFixture()
	tm := startFlow(t, f.be, feed(unsaved(f), true), 100, 30)
	waitText(t, tm, "build complete", "saves this image")
	tm.Send(keyMsg("S"))
	waitText(t, tm, "Save image", "docker-archive:FILE")
	tm.Type("oci:/tmp/x")
	tm.Send(keyMsg("enter"))
	waitText(t, tm, "✓ saved: wrote oci:/tmp/x")
	tm.Send(keyMsg("q"))
	m := finalModel(t, tm)
	if got := f.be.saveCalls(); len(got) != 1 || got[0] != (saveCall{digest("img5"), "oci:/tmp/x"}) {
		t.Errorf("Save calls %v, want one with the image and oci:/tmp/x", got)
	}
	if m.form.active || m.saving {
		t.Errorf("form %v saving %v after the save", m.form.active, m.saving)
	}
}

// TestFlowInspect: the inspect event stream through the real program.
func TestFlowInspect(t *testing.T) {
	f := newFixture()
	tm := startFlowOpt(t, Options{Events: feed(inspectFixture(f), true), Backend: f.be, Title: "redis:7", HasOutput: true}, 100, 30)
	waitText(t, tm, "✓ image redis:7", "largest layers")
	tm.Send(keyMsg("g"))
	tm.Send(keyMsg("j"))
	tm.Send(keyMsg("j"))
	tm.Send(keyMsg("3"))
	waitText(t, tm, "redis.conf.default")
	tm.Send(keyMsg("q"))
	fm := finalModel(t, tm)
	if fm.sel != 2 || fm.tab != tabFiles {
		t.Errorf("selected %d tab %s", fm.sel, tabNames[fm.tab])
	}
}

// TestNoColorSaveAndInspect: the save form and the inspect view use no
// colour under NO_COLOR.
func TestNoColorSaveAndInspect(t *testing.T) {
	colour := regexp.MustCompile("\x1b\\[[0-9;:]*(3[0-8]|4[0-8]|9[0-7]|10[0-7])[;:m]")
	f := newFixture()
	m := newModel(Options{Backend: f.be, NoColor: true})
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: unsaved(f)} })
	press(t, m, "S")
	typeText(t, m, "oci:x")
	for _, out := range []string{m.render(), m.form.view(60, 9)} {
		if s := colour.FindString(out); s != "" {
			t.Fatalf("colour escape %q in the NO_COLOR save form", s)
		}
	}
	f = newFixture()
	m = newModel(Options{Backend: f.be, NoColor: true, HasOutput: true})
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: inspectFixture(f)} })
	press(t, m, "j", "j", "2")
	if s := colour.FindString(m.render()); s != "" {
		t.Fatalf("colour escape %q in the NO_COLOR inspect view", s)
	}
}

// TestQuitWaitsForSave: q while an image is being written waits for the
// save (a half-written layout is worse than a short wait); a second q
// leaves at once.
func TestQuitWaitsForSave(t *testing.T) {
	f := newFixture()
	m := newTestModel(t, f.be, 100, 30, unsaved(f)...)
	press(t, m, "S")
	typeText(t, m, "oci:/tmp/x")
	save := m.onKey(keyMsg("enter")) // the save's Cmd, not run yet
	if save == nil || !m.saving {
		t.Fatalf("enter did not start a save (saving %v)", m.saving)
	}
	if cmd := m.onKey(keyMsg("q")); cmd != nil {
		t.Fatalf("q during the save returned %T, want to wait", cmd())
	}
	if !strings.Contains(m.status, "waiting for the save") {
		t.Errorf("status %q", m.status)
	}
	_, cmd := m.Update(save())
	if cmd == nil {
		t.Fatal("the end of the save did not quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("after the save: %T, want tea.QuitMsg", cmd())
	}

	m = newTestModel(t, f.be, 100, 30, unsaved(f)...)
	press(t, m, "S")
	typeText(t, m, "x")
	m.onKey(keyMsg("enter"))
	m.onKey(keyMsg("q"))
	if cmd := m.onKey(keyMsg("q")); cmd == nil {
		t.Error("a second q did not leave")
	} else if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("second q: %T", cmd())
	}
}
