package registry

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-build/strata/layers"
)

// Pushed is what a push wrote.
type Pushed struct {
	Ref    Ref
	Digest v1.Hash // manifest digest in the registry
	Size   int64   // manifest size
	Config v1.Hash // config digest: the local image id
}

// Push sends a stored image (a name or id of the local store) to dest; an
// empty dest is the image's own name.
func Push(ctx context.Context, s *layers.Store, image, dest string, o Options) (*Pushed, error) {
	rec, ok, err := s.LookupImage(image)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no image %q in the local store (strata images lists them; build one with -t NAME or strata pull it)", image)
	}
	if dest == "" {
		if n, _ := layers.NormalizeName(image); n != rec.Name {
			return nil, fmt.Errorf("%s is an image id: say where to push it, e.g. strata push %s REGISTRY/REPOSITORY:TAG", image, image)
		}
		dest = image
	}
	return PushConfig(ctx, s, rec.Config, dest, o)
}

// pushClient parses dest, a tag to push to, and makes its client
// (PushConfig, PushIndex).
func pushClient(s *layers.Store, dest string, o Options) (Ref, *client, error) {
	r, err := Parse(dest)
	if err != nil {
		return r, nil, err
	}
	if r.Digest != "" {
		return r, nil, fmt.Errorf("push %s: a push names a tag, not a digest (e.g. %s:latest); the registry computes the digest", dest, r.Repo())
	}
	c, err := newClient(s, o)
	return r, c, err
}

// PushConfig pushes the stored image whose config digest is config (the
// image id) to dest: Store.Image's config byte for byte, so the
// registry's config digest is the local image id, and its gzip-compressed
// layers, every blob verified as it is read.
func PushConfig(ctx context.Context, s *layers.Store, config v1.Hash, dest string, o Options) (*Pushed, error) {
	r, c, err := pushClient(s, dest, o)
	if err != nil {
		return nil, err
	}
	img, err := s.Image(config)
	if err != nil {
		return nil, err
	}
	if len(o.Annotations) > 0 {
		img = mutate.Annotations(img, o.Annotations).(v1.Image)
	}
	if err := mountRemote(ctx, c, r, s, config); err != nil { // cache.go
		return nil, err
	}
	if err := remote.Write(c.name(r), img, c.remote(ctx)...); err != nil {
		if ce := (*layers.CorruptBlobError)(nil); errors.As(err, &ce) {
			return nil, ce // the store's fault, not the registry's
		}
		return nil, explain(err, r)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	m, _ := img.RawManifest()
	cd, _ := img.ConfigName()
	return &Pushed{Ref: r, Digest: d, Size: int64(len(m)), Config: cd}, nil
}
