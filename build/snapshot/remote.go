package snapshot

import (
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// Layers still in a shared cache. A step that hit a --cache-from cache
// has a snapshot whose layers may still be in the registry (or the OCI
// layout) they came from: the build only downloads what a step that runs
// or an output needs. What the TUI shows of such a snapshot (its files,
// its whole tree, a comparison, a shell) needs them here: the Backend
// downloads them then, and says how far it is.

// RemoteLayer is a layer of a snapshot that is not downloaded yet.
type RemoteLayer struct {
	DiffID v1.Hash
	Digest v1.Hash // its compressed blob
	Size   int64   // compressed bytes to download
	Source string  // where it is: the --cache-from ref, or the base image
}

// FetchProgress is how far a snapshot's download is: layer Layer (from
// 1) of Layers, Done of Total compressed bytes of that layer.
type FetchProgress struct {
	RemoteLayer
	Done          int64
	Layer, Layers int
}

// String is what the TUI shows while it waits.
func (p FetchProgress) String() string {
	s := fmt.Sprintf("downloading layer %s from %s: %s", short(p.DiffID), p.Source, ofSize(p.Done, p.Size))
	if p.Layers > 1 {
		s += fmt.Sprintf(" (layer %d of %d)", p.Layer, p.Layers)
	}
	return s
}

// ofSize is "12.3 of 50.7 MB" (kB under a megabyte).
func ofSize(done, total int64) string {
	if total < 1e6 {
		return fmt.Sprintf("%.1f of %.1f kB", float64(done)/1e3, float64(total)/1e3)
	}
	return fmt.Sprintf("%.1f of %.1f MB", float64(done)/1e6, float64(total)/1e6)
}

// short is sha256: and the first 12 hex digits.
func short(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}

// RemoteLayers lists the layers of snap (and its failed step's view)
// that are still remote, base first.
func (b *Backend) RemoteLayers(snap *event.Snapshot) []RemoteLayer {
	if snap == nil || b.Store == nil {
		return nil
	}
	var out []RemoteLayer
	for _, d := range snap.Layers {
		if rl, ok := b.Store.Remote(d); ok && !slices.ContainsFunc(out, func(r RemoteLayer) bool { return r.DiffID == d }) {
			out = append(out, RemoteLayer{DiffID: d, Digest: rl.Digest, Size: rl.CompressedSize, Source: rl.Source})
		}
	}
	return out
}

// FetchLayers downloads the remote layers of snap, one after the other,
// telling progress (nil: nobody listens) how far each is. The error names
// the layer, where it was and why it could not be had; the store is then
// as it was for that layer.
func (b *Backend) FetchLayers(snap *event.Snapshot, progress func(FetchProgress)) error {
	todo := b.RemoteLayers(snap)
	for i, rl := range todo {
		var tell func(int64)
		if progress != nil {
			tell = func(n int64) { progress(FetchProgress{RemoteLayer: rl, Done: n, Layer: i + 1, Layers: len(todo)}) }
		}
		if _, err := b.Store.FetchRemoteProgress(rl.DiffID, tell); err != nil {
			return fmt.Errorf("layer %s could not be downloaded from %s: %w", rl.DiffID, rl.Source, err)
		}
	}
	return nil
}

// ready fetches what snapshots need before they are read: the error says
// which layer could not be had (never an empty or partial view).
func (b *Backend) ready(snaps ...*event.Snapshot) error {
	for _, s := range snaps {
		if err := b.FetchLayers(s, nil); err != nil {
			return err
		}
	}
	return nil
}

// StepChanges is the change list of the step that made snap: the one the
// build sent, else read from the step's layer (downloaded first when it
// is still remote). nil without error: the step made no layer.
func (b *Backend) StepChanges(snap *event.Snapshot) ([]layers.Change, error) {
	if snap == nil || snap.Changes != nil || snap.DiffID.Hex == "" {
		if snap == nil {
			return nil, nil
		}
		return snap.Changes, nil
	}
	if err := b.ready(snap); err != nil {
		return nil, err
	}
	c, err := b.Store.ChangeList(snap.DiffID, below(snap))
	if err != nil {
		return nil, fmt.Errorf("the change list of layer %s: %w", snap.DiffID, err)
	}
	if c == nil {
		c = []layers.Change{}
	}
	return c, nil
}

// below is the layers under the one snap's step made, base first.
func below(snap *event.Snapshot) []v1.Hash {
	i := slices.Index(snap.Layers, snap.DiffID)
	if i < 0 {
		i = len(snap.Layers)
	}
	return snap.Layers[:i]
}

// EachStepChange gives fn the entries of StepChanges(snap) one at a time,
// read from the step's layer without holding the list (c is only valid
// during the call): the Files tab builds a million-file step's tree as it
// reads it. An error from fn ends it and is returned.
func (b *Backend) EachStepChange(snap *event.Snapshot, fn func(c *layers.Change) error) error {
	if snap == nil || snap.Changes != nil || snap.DiffID.Hex == "" {
		if snap != nil {
			for i := range snap.Changes {
				if err := fn(&snap.Changes[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := b.ready(snap); err != nil {
		return err
	}
	if err := b.Store.EachChange(snap.DiffID, below(snap), fn); err != nil {
		return fmt.Errorf("the change list of layer %s: %w", snap.DiffID, err)
	}
	return nil
}

// fetch downloads the shell's layers still remote, on the terminal the
// shell is about to take (the TUI is suspended by then: it is not kept
// waiting), saying how far it is.
func (c *ShellCmd) fetch() error {
	said := false
	err := c.b.FetchLayers(c.snap, func(p FetchProgress) {
		fmt.Fprintf(c.stderr, "\r%s ", p)
		said = true
	})
	if said {
		fmt.Fprintln(c.stderr)
	}
	if err != nil {
		return fmt.Errorf("shell: %w", err)
	}
	return nil
}
