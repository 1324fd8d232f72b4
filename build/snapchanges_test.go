package build

import (
	"slices"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// snapChanges is the change list of the step that made snap, as the TUI
// reads it: the list a snapshot still carries (a cache hit's, a failed
// RUN's), else the one kept with its layer in the store (or read from the
// layer's tar). A snapshot carries counts, not the list.
func snapChanges(t testing.TB, store *layers.Store, snap *event.Snapshot) []layers.Change {
	t.Helper()
	if snap == nil || snap.Changes != nil || snap.DiffID.Hex == "" {
		if snap == nil {
			return nil
		}
		return snap.Changes
	}
	i := slices.Index(snap.Layers, snap.DiffID)
	if i < 0 {
		i = len(snap.Layers)
	}
	c, err := store.ChangeList(snap.DiffID, snap.Layers[:i])
	if err != nil {
		t.Fatalf("the change list of layer %s: %v", snap.DiffID, err)
	}
	if st, files, ok := snap.ChangeStats(); !ok || files != len(c) || st != layers.Stats(c) {
		t.Errorf("snapshot of step %d counts %d changes %+v (known %v), its layer's list %d %+v", snap.Step, files, st, ok, len(c), layers.Stats(c))
	}
	return c
}
