package registry

import (
	"context"
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-build/strata/layers"
)

// PushIndex pushes a multi-platform image to dest: every platform's image
// (its blobs and manifest, by digest), then the index under dest's tag,
// as docker buildx pushes a manifest list. configs are the images' config
// digests in the local store (their layers may already be in the registry).
func PushIndex(ctx context.Context, s *layers.Store, idx v1.ImageIndex, configs []v1.Hash, dest string, o Options) (*Pushed, error) {
	r, c, err := pushClient(s, dest, o)
	if err != nil {
		return nil, err
	}
	for _, cfg := range configs {
		if err := mountRemote(ctx, c, r, s, cfg); err != nil { // cache.go
			return nil, err
		}
	}
	if err := remote.WriteIndex(c.name(r), idx, c.remote(ctx)...); err != nil {
		if ce := (*layers.CorruptBlobError)(nil); errors.As(err, &ce) {
			return nil, ce
		}
		return nil, explain(err, r)
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	m, _ := idx.RawManifest()
	return &Pushed{Ref: r, Digest: d, Size: int64(len(m))}, nil
}
