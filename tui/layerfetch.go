package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

// A step that hit a shared cache (--cache-from) may have its layer still
// in the registry: the build downloads only what it needs. The Files tab
// then downloads it, saying how far it is, and lists the real changes
// once it is here; when the download fails it says why. It never shows
// "no filesystem change" for a layer it has not read.

// layerFetcher is a Backend that can download such layers
// (snapshot.Backend); without it the tab reads what the build sent.
type layerFetcher interface {
	// RemoteLayers lists the snapshot's layers not downloaded yet.
	RemoteLayers(snap *event.Snapshot) []snapshot.RemoteLayer
	// FetchLayers downloads them, telling progress how far it is.
	FetchLayers(snap *event.Snapshot, progress func(snapshot.FetchProgress)) error
	// StepChanges is the change list of the step that made snap, read
	// from its layer when the build did not send one.
	StepChanges(snap *event.Snapshot) ([]layers.Change, error)
}

var _ layerFetcher = (*snapshot.Backend)(nil)

// changeStreamer is a layerFetcher that also reads a step's change list
// one entry at a time (snapshot.Backend): the Files tab builds a huge
// step's tree as the list is read, without holding it.
type changeStreamer interface {
	layerFetcher
	// EachStepChange gives fn StepChanges(snap)'s entries one at a time.
	EachStepChange(snap *event.Snapshot, fn func(c *layers.Change) error) error
}

var _ changeStreamer = (*snapshot.Backend)(nil)

// treeStreamer is a layerFetcher that also lists the whole filesystem of
// a snapshot one entry at a time, merged from its layers' change lists
// (snapshot.Backend): the whole view needs no walk of the layers' trees.
type treeStreamer interface {
	changeStreamer
	// EachTreeEntry gives fn Tree(snap)'s entries one at a time; an error
	// wrapping layers.ErrNoMerge: use Tree.
	EachTreeEntry(snap *event.Snapshot, fn func(c *layers.Change) error) error
	// TreeSize is about how many entries Tree(snap) has, at most.
	TreeSize(snap *event.Snapshot) int
}

var _ treeStreamer = (*snapshot.Backend)(nil)

// layerFetchMsg is a download's progress, or (done) its end.
type layerFetchMsg struct {
	seq  int
	p    snapshot.FetchProgress
	done bool
	err  error
	ch   <-chan layerFetchMsg
}

// unreadSummary stands for the changes of a step whose change list the
// build did not send.
const unreadSummary = "changes not known yet: its layer came from a shared cache (--cache-from); the Files tab reads it"

// unreadText is unreadSummary, or for a layer still in a plain
// --cache-from image, where it is: "layer in IMAGE, not downloaded: size
// and files not known yet (…compressed); the Files tab reads it".
func unreadText(r *stepRec) string {
	if r.remote != "" {
		return r.remote + "; the Files tab reads it"
	}
	return unreadSummary
}

// needsLayer: what the tab shows of snap must be read from its layers:
// the whole tree, or a step's changes the build could not send (its
// layer was still remote).
func needsLayer(snap *event.Snapshot, whole bool) bool {
	return snap != nil && (whole || (snap.Changes == nil && snap.DiffID.Hex != ""))
}

// startFetch downloads snap's remote layers, if it has any the tab needs;
// nil when there is nothing to download.
func (m *filesModel) startFetch() tea.Cmd {
	lf, ok := m.be.(layerFetcher)
	if !ok || !needsLayer(m.snap, m.whole) {
		return nil
	}
	todo := lf.RemoteLayers(m.snap)
	if len(todo) == 0 {
		return nil
	}
	m.fetching = snapshot.FetchProgress{RemoteLayer: todo[0], Layer: 1, Layers: len(todo)}.String()
	seq, snap := m.seq, m.snap
	ch := make(chan layerFetchMsg, 8)
	go func() {
		var last time.Time
		err := lf.FetchLayers(snap, func(p snapshot.FetchProgress) {
			if now := time.Now(); now.Sub(last) >= 100*time.Millisecond || p.Done == p.Size {
				last = now
				select {
				case ch <- layerFetchMsg{seq: seq, p: p, ch: ch}:
				default: // the tab is behind: the next one tells
				}
			}
		})
		ch <- layerFetchMsg{seq: seq, done: true, err: err, ch: ch}
	}()
	return waitFetch(ch)
}

func waitFetch(ch <-chan layerFetchMsg) tea.Cmd {
	return func() tea.Msg { return <-ch }
}

// fetched handles a download's message: progress is shown, the end loads
// the tree (or shows why it could not be had). A download the tab no
// longer waits for is still followed to its end.
func (m *filesModel) fetched(msg layerFetchMsg) tea.Cmd {
	if msg.seq != m.seq {
		if msg.done {
			return nil
		}
		return waitFetch(msg.ch)
	}
	if !msg.done {
		m.fetching = msg.p.String()
		return waitFetch(msg.ch)
	}
	m.fetching = ""
	if msg.err != nil {
		m.loaded(filesLoadedMsg{seq: msg.seq, snap: m.snap, whole: m.whole, err: msg.err})
		return nil
	}
	return loadTree(m.be, m.seq, m.snap, m.whole)
}

// stepChanges is the step's change list: the build's, else read through
// the backend from the layer.
func stepChanges(be Backend, snap *event.Snapshot) ([]layers.Change, error) {
	if lf, ok := be.(layerFetcher); ok && snap.Changes == nil && snap.DiffID.Hex != "" {
		return lf.StepChanges(snap)
	}
	return snap.Changes, nil
}
