package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
)

// CacheRepo is a registry reference a build shares its cache through
// (--cache-to / --cache-from type=registry,ref=REF): the same credentials,
// --insecure-registry and loopback rules as a push. Only the reference the
// user named is ever asked.
type CacheRepo struct {
	c *client
	r Ref
}

// OpenCache parses ref for a cache import or export.
func OpenCache(ref string, o Options) (*CacheRepo, error) {
	r, err := Parse(ref)
	if err != nil {
		return nil, err
	}
	c, err := newClient(nil, o)
	if err != nil {
		return nil, err
	}
	return &CacheRepo{c: c, r: r}, nil
}

// Name is the reference, docker-normalised.
func (cr *CacheRepo) Name() string { return cr.r.Name }

// Repo is REGISTRY/REPOSITORY.
func (cr *CacheRepo) Repo() string { return cr.r.Repo() }

// Registry is the registry's host[:port].
func (cr *CacheRepo) Registry() string { return cr.r.Registry }

func (cr *CacheRepo) repo() name.Repository { return cr.c.name(cr.r).Context() }

// ErrNoCache is returned by Manifest when the reference does not exist.
var ErrNoCache = errors.New("not found")

// Manifest reads what ref points to: its raw manifest and media type.
// Its size is bounded (4 MiB, as registries bound manifests).
func (cr *CacheRepo) Manifest(ctx context.Context) ([]byte, types.MediaType, error) {
	d, err := remote.Get(cr.c.name(cr.r), cr.c.remote(ctx)...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, "", ErrNoCache
		}
		return nil, "", explain(err, cr.r)
	}
	return d.Manifest, d.MediaType, nil
}

// ReadBlob reads a small blob (a cache config) of at most max bytes,
// verified against its digest.
func (cr *CacheRepo) ReadBlob(ctx context.Context, h v1.Hash, max int64) ([]byte, error) {
	l, err := cr.Layer(ctx, h)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed() // verified by go-containerregistry as it is read
	if err != nil {
		return nil, explain(err, cr.r)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s from %s: %w", h, cr.r.Repo(), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("blob %s from %s is larger than %d bytes: refused", h, cr.r.Repo(), max)
	}
	return b, nil
}

// Layer is the blob h of the repository, read only when its Compressed
// is called (remote.MountableLayer, so a push to another repository of
// the same registry mounts it instead of copying it).
func (cr *CacheRepo) Layer(ctx context.Context, h v1.Hash) (v1.Layer, error) {
	return remote.Layer(cr.repo().Digest(h.String()), cr.c.remote(ctx)...)
}

// HasBlob asks the registry (HEAD) whether blob h exists with size bytes.
func (cr *CacheRepo) HasBlob(ctx context.Context, h v1.Hash, size int64) error {
	l, err := cr.Layer(ctx, h)
	if err != nil {
		return err
	}
	n, err := l.Size() // a HEAD request
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return fmt.Errorf("blob %s is not in %s", h, cr.r.Repo())
		}
		return explain(err, cr.r)
	}
	if n >= 0 && n != size {
		return fmt.Errorf("blob %s in %s is %d bytes, the cache says %d", h, cr.r.Repo(), n, size)
	}
	return nil
}

// PutCache writes a cache artifact: every layer (HEAD first, so a blob
// the repository has is not sent; a blob of another repository of the
// same registry is mounted), the config blob, then the manifest under
// the reference. A registry that refuses the manifest for its OCI 1.1
// artifactType gets it again without the field (fallback, then the
// config's media type alone says what it is).
func (cr *CacheRepo) PutCache(ctx context.Context, layers []v1.Layer, config []byte, configType types.MediaType, manifest, fallback []byte) error {
	opts := cr.c.remote(ctx)
	for _, l := range layers {
		if err := remote.WriteLayer(cr.repo(), l, opts...); err != nil {
			return explain(err, cr.r)
		}
	}
	if err := remote.WriteLayer(cr.repo(), static.NewLayer(config, configType), opts...); err != nil {
		return explain(err, cr.r)
	}
	err := remote.Put(cr.c.name(cr.r), rawManifest{manifest, types.OCIManifestSchema1}, opts...)
	if err != nil && fallback != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode >= 400 && te.StatusCode < 500 {
			err = remote.Put(cr.c.name(cr.r), rawManifest{fallback, types.OCIManifestSchema1}, opts...)
		}
	}
	if err != nil {
		return explain(err, cr.r)
	}
	return nil
}

type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.b, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// blobLayer is a blob of known descriptor read through a reader func
// (an OCI layout's file).
type blobLayer struct {
	d    v1.Descriptor
	open func() (io.ReadCloser, error)
}

// NewBlobLayer is a v1.Layer for a blob known by descriptor, opened by
// open (the caller verifies what it reads).
func NewBlobLayer(d v1.Descriptor, open func() (io.ReadCloser, error)) v1.Layer {
	return &blobLayer{d: d, open: open}
}

func (l *blobLayer) Digest() (v1.Hash, error)             { return l.d.Digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)             { return v1.Hash{}, errors.New("diffID unknown") }
func (l *blobLayer) Size() (int64, error)                 { return l.d.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error)  { return l.d.MediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)   { return l.open() }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) { return nil, errors.New("not available") }

// mountRemote puts in dest's repository, before a push writes the image,
// the layers of the image that are still remote (layers.RemoteLayer, from
// a --cache-from): a blob the repository has is left alone, one in
// another repository of the same registry is mounted from there, so a
// build whose every step came from a registry's cache pushes without
// downloading a layer.
func mountRemote(ctx context.Context, c *client, r Ref, s *layers.Store, config v1.Hash) error {
	raw, err := s.ReadBlob(config)
	if err != nil {
		return err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	for _, d := range cfg.RootFS.DiffIDs {
		rl, ok := s.Remote(d)
		if !ok {
			continue
		}
		if err := remote.WriteLayer(c.name(r).Context(), rl.Blob, c.remote(ctx)...); err != nil {
			return explain(err, r)
		}
	}
	return nil
}

// ResolveLazy is Resolve for a build that shares a cache: the store's copy
// when it has one; else the registry's manifest and config only, with
// each layer the store lacks made known as a layers.RemoteLayer (fetched
// when a step that runs, or an output, needs it). Nothing is recorded in
// the store: the image is not pulled.
func ResolveLazy(ctx context.Context, s *layers.Store, ref string, o Options) (*Result, error) {
	r, c, res, err := resolveLocal(s, ref, o)
	if err != nil || res != nil {
		return res, err
	}
	img, err := remote.Image(c.name(r), c.remote(ctx)...)
	if err != nil {
		return nil, explain(err, r)
	}
	cfg, err := img.ConfigFile() // verified against the manifest's digest
	if err != nil {
		return nil, explain(err, r)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, explain(err, r)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, &Error{Ref: r, Msg: fmt.Sprintf("the manifest lists %d layers, the config %d diffIDs", len(m.Layers), len(cfg.RootFS.DiffIDs))}
	}
	md, _ := img.Digest()
	res = &Result{Ref: r, Manifest: md, Config: cfg, Layers: len(m.Layers), Platform: platforms.Of(cfg).String()}
	if !platforms.Fits(platforms.Of(cfg), c.platform) {
		res.Warning = otherPlatform(r, res.Platform, c.platform.String())
	}
	for i, d := range m.Layers {
		diffID := cfg.RootFS.DiffIDs[i]
		if s.HasLayer(diffID) {
			continue
		}
		// read when a step or the TUI needs it, maybe after ctx is done
		l, err := remote.Layer(c.name(r).Context().Digest(d.Digest.String()), c.remote(context.WithoutCancel(ctx))...)
		if err != nil {
			return nil, explain(err, r)
		}
		s.AddRemote(layers.RemoteLayer{DiffID: diffID, Digest: d.Digest, CompressedSize: d.Size, MediaType: d.MediaType, Blob: l, Source: r.Name})
	}
	return res, nil
}
