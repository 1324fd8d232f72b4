package tui

import (
	"errors"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

// remoteBackend is the fake backend with one snapshot whose layer is
// still in a shared cache: FetchLayers tells 12.3 of 50.7 MB, then waits
// for gate and ends with err.
type remoteBackend struct {
	*fakeBackend
	snap    *event.Snapshot
	changes []layers.Change
	gate    chan struct{}
	err     error
	fetched chan struct{} // closed when the download has ended
}

func (r *remoteBackend) RemoteLayers(snap *event.Snapshot) []snapshot.RemoteLayer {
	select {
	case <-r.fetched:
		return nil
	default:
	}
	if snap != r.snap {
		return nil
	}
	return []snapshot.RemoteLayer{{DiffID: snap.DiffID, Size: 50_700_000, Source: "127.0.0.1:5000/app:cache"}}
}

func (r *remoteBackend) FetchLayers(snap *event.Snapshot, progress func(snapshot.FetchProgress)) error {
	rl := r.RemoteLayers(snap)
	if len(rl) == 0 {
		return nil
	}
	progress(snapshot.FetchProgress{RemoteLayer: rl[0], Done: 12_300_000, Layer: 1, Layers: 1})
	<-r.gate
	if r.err == nil {
		close(r.fetched)
	}
	return r.err
}

func (r *remoteBackend) StepChanges(snap *event.Snapshot) ([]layers.Change, error) {
	if snap.Changes != nil {
		return snap.Changes, nil
	}
	if snap == r.snap && len(r.RemoteLayers(snap)) == 0 {
		return r.changes, nil
	}
	return nil, errors.New("layer not here")
}

// remoteFixture: the fixture's cached COPY step came from a shared cache
// and its layer is still remote (the build sent no change list).
func remoteFixture(err error) (*fixture, *remoteBackend) {
	f := newFixture()
	s2 := f.snaps[2]
	rb := &remoteBackend{fakeBackend: f.be, snap: s2, changes: s2.Changes, gate: make(chan struct{}), err: err, fetched: make(chan struct{})}
	s2.Changes = nil
	return f, rb
}

// TestFilesDownloadsRemoteLayer: the Files tab of a step whose layer is
// still remote shows the download's progress (golden), then the step's
// real files; never "no filesystem change".
func TestFilesDownloadsRemoteLayer(t *testing.T) {
	f, rb := remoteFixture(nil)
	tm := startFlow(t, rb, feed(f.events(), true), 100, 30)
	waitText(t, tm, "build complete")
	for range 3 {
		tm.Send(keyMsg("up"))
	}
	tm.Send(keyMsg("3"))
	want := "downloading layer " + shortHash(f.snaps[2].DiffID.Hex) + " from 127.0.0.1:5000/app:cache: 12.3 of 50.7 MB"
	waitText(t, tm, want)
	var screen string
	waitModel(t, tm, "screen", func(m *model) bool { screen = m.render(); return true })
	if strings.Contains(ansi.Strip(screen), "no filesystem change") {
		t.Errorf("a remote layer shown as no change:\n%s", cleanScreen(screen))
	}
	requireGolden(t, "files-downloading-100x30", screen)
	close(rb.gate)
	waitText(t, tm, "redis.conf", "this step: +1 ~0 -0")
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
}

// TestFilesRemoteLayerFails: a download that fails says why.
func TestFilesRemoteLayerFails(t *testing.T) {
	f, rb := remoteFixture(errors.New("layer sha256:abc could not be downloaded from 127.0.0.1:5000/app:cache: blob unknown"))
	tm := startFlow(t, rb, feed(f.events(), true), 100, 30)
	waitText(t, tm, "build complete")
	for range 3 {
		tm.Send(keyMsg("up"))
	}
	tm.Send(keyMsg("3"))
	waitText(t, tm, "12.3 of 50.7 MB")
	close(rb.gate)
	waitText(t, tm, "files: layer sha256:abc could not be downloaded", "blob unknown")
	waitModel(t, tm, "no wrong fact", func(m *model) bool {
		return !strings.Contains(ansi.Strip(m.render()), "no filesystem change")
	})
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
}

func shortHash(hex string) string { return "sha256:" + hex[:12] }

// TestUnreadStepSaysSo: a hit whose change list the build did not send
// (its layer came from a shared cache; a plain image's history match
// knows no size either) is not shown as "no changes" or "0 added" in the
// Steps pane, the Step story or the Cache tab.
func TestUnreadStepSaysSo(t *testing.T) {
	f := newFixture()
	b := newBuildState()
	b.apply(f.plan, t0)
	s2 := f.snaps[2]
	s2.Changes = nil
	b.apply(event.StepCached{Step: 2, Key: digest("key2"), ImageID: digest("img2"), DiffID: s2.DiffID.String(), Snapshot: s2, Reason: "from 127.0.0.1:5000/app:plain"}, t0)
	r := b.step(2)
	if !r.unread {
		t.Fatal("a hit without a change list is not marked unread")
	}
	c := newCommon(true)
	story := strings.Join(stepStory(c, b, 2, 120), "\n")
	cache := strings.Join(cacheView(c, b, 2, 120), "\n")
	for name, s := range map[string]string{"story": story, "cache": cache, "summary": changeSummary(r), "sizes": layerSizes(r)} {
		for _, wrong := range []string{"No changes", "0 added", "0 changed paths", "layer is empty"} {
			if strings.Contains(s, wrong) {
				t.Errorf("%s says %q of a layer it has not read:\n%s", name, wrong, s)
			}
		}
	}
	if !strings.Contains(story, "changes not known yet") {
		t.Errorf("the story does not say the changes are not known:\n%s", story)
	}
	m := stepsModel{c: c, b: b, w: 80}
	parts, _ := m.cols(2, r, false)
	if got := strings.Join(parts, " "); strings.Contains(got, "no changes") || !strings.Contains(got, "remote") {
		t.Errorf("Steps columns %q: want remote, not no changes", got)
	}
}
