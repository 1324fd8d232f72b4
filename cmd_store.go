package main

import (
	"context"

	"github.com/strata-build/strata/layers"
)

// openStore opens the image store of --root for a command, with a context
// that ends on SIGINT, SIGTERM or SIGHUP; done closes the store and
// releases the context.
func (g *globals) openStore(parent context.Context) (ctx context.Context, store *layers.Store, done func(), err error) {
	ctx, cancel := signalContext(parent)
	store, err = layers.Open(g.root)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, store, func() { store.Close(); cancel() }, nil
}
