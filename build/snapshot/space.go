package snapshot

import (
	"context"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/space"
)

// Space is the wasted-space analysis of the image the collector's events
// told (the TUI's Space tab runs it off the UI's goroutine); it is kept
// in the store, so it is computed once per image.
func (b *Backend) Space(ctx context.Context, c *space.Collector) (*space.Analysis, error) {
	if _, in, _, ok := c.Image(); ok { // layers still in a shared cache are read here
		snap := &event.Snapshot{}
		for _, l := range in {
			snap.Layers = append(snap.Layers, l.DiffID)
		}
		if err := b.ready(snap); err != nil {
			return nil, err
		}
	}
	return c.Run(ctx, b.Store, space.Options{Compress: true})
}
