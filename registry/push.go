package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

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
	raw, err := s.ReadBlob(rec.Config)
	if err != nil {
		return nil, err
	}
	return PushConfig(ctx, s, raw, dest, o)
}

// PushConfig pushes the image whose config is raw (its layers stored) to
// dest. The config goes out byte for byte, so the registry's config
// digest is the local image id; layers go gzip-compressed (made once and
// kept by the store).
func PushConfig(ctx context.Context, s *layers.Store, raw []byte, dest string, o Options) (*Pushed, error) {
	r, err := Parse(dest)
	if err != nil {
		return nil, err
	}
	if r.Digest != "" {
		return nil, fmt.Errorf("push %s: a push names a tag, not a digest (e.g. %s:latest); the registry computes the digest", dest, r.Repo())
	}
	c, err := newClient(s, o)
	if err != nil {
		return nil, err
	}
	img, err := storeImage(s, raw)
	if err != nil {
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

// storeImage is a stored image as ggcr sees it: the raw config and the
// store's compressed layers.
func storeImage(s *layers.Store, raw []byte) (v1.Image, error) {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	exp, err := s.ExportImage(cfg)
	if err != nil {
		return nil, err
	}
	ls, err := exp.Layers()
	if err != nil {
		return nil, err
	}
	cfgDigest, cfgSize, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	core := &pushImage{raw: raw, layers: map[v1.Hash]v1.Layer{}}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: cfgSize},
		Layers:        []v1.Descriptor{},
	}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		n, err := l.Size()
		if err != nil {
			return nil, err
		}
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		core.layers[d] = l
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Digest: d, Size: n})
	}
	if core.man, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(core)
}

type pushImage struct {
	raw, man []byte
	layers   map[v1.Hash]v1.Layer
}

func (p *pushImage) RawConfigFile() ([]byte, error)      { return p.raw, nil }
func (p *pushImage) RawManifest() ([]byte, error)        { return p.man, nil }
func (p *pushImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (p *pushImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := p.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("layer %s is not in this image", h)
}
