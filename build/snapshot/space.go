package snapshot

import (
	"context"
	"fmt"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/space"
)

// Space is the wasted-space analysis of the image the collector's events
// told (the TUI's Space tab runs it off the UI's goroutine); it is kept
// in the store, so it is computed once per image.
func (b *Backend) Space(ctx context.Context, c *space.Collector) (*space.Analysis, error) {
	// It runs by itself when a build ends: it does not download what a
	// shared cache left in the registry (an all-hit push downloads nothing).
	if _, in, _, ok := c.Image(); ok {
		snap := &event.Snapshot{}
		for _, l := range in {
			snap.Layers = append(snap.Layers, l.DiffID)
		}
		if rl := b.RemoteLayers(snap); len(rl) > 0 {
			return nil, fmt.Errorf("%d of the image's layers are still in %s (--cache-from: not downloaded, as no step or output needed them): the analysis reads every layer; build with an output that stores the image (no -o type=registry alone) to analyse it", len(rl), rl[0].Source)
		}
	}
	return c.Run(ctx, b.Store, space.Options{Compress: true})
}
