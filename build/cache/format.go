package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
)

// The shared cache's format (a Doc as an OCI artifact's config, or an
// image's inline annotation) and its transport: read from and written to a
// registry or an OCI layout on disk (Shared uses it).

const (
	// ArtifactType is the OCI 1.1 artifactType of a strata cache.
	ArtifactType = "application/vnd.strata.cache.v1"
	// ConfigType is the media type of its config blob (a Doc).
	ConfigType = "application/vnd.strata.cache.config.v1+json"
	// InlineAnnotation holds a Doc in a pushed image's manifest.
	InlineAnnotation = "dev.strata.cache.v1"
	// cacheLayoutName names the cache in an OCI layout's index.json.
	cacheLayoutName = "strata-cache"
	maxCacheDoc     = 64 << 20
)

// Doc is the config blob of a cache artifact (docs/cache.md).
type Doc struct {
	Version int           `json:"version"`
	Mode    string        `json:"mode,omitempty"`
	Entries []Entry       `json:"entries"`
	Layers  []Layer       `json:"layers,omitempty"`
	Records []StageRecord `json:"records,omitempty"`
	// Sums: the sums files the records name, inline (by digest), so a
	// machine that imports the records can name a changed file.
	Sums map[string]FileSums `json:"sums,omitempty"`

	// image: a plain image's config (no records: classic.go).
	image *v1.ConfigFile
}

// Layer is a layer of a Doc: where its blob is, and what it is.
type Layer struct {
	DiffID    v1.Hash         `json:"diff_id"`
	Digest    v1.Hash         `json:"digest"`
	Size      int64           `json:"size"`     // compressed
	TarSize   int64           `json:"tar_size"` // uncompressed
	MediaType types.MediaType `json:"media_type"`
}

var hexKey = func(k string) bool {
	h, ok := strings.CutPrefix(k, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// validEntry: a well-formed key, a config, every layer usable. Records are
// data: they name layers by digest only, never a path.
func validEntry(ent *Entry, usable map[v1.Hash]bool, s *layers.Store) bool {
	if !hexKey(ent.Key) || !ent.WellFormed() {
		return false
	}
	for _, d := range ent.LayerIDs() {
		if d.Algorithm != "sha256" || len(d.Hex) != 64 || (!usable[d] && !s.HasLayer(d)) {
			return false
		}
	}
	if ent.DiffID != "" {
		h, err := v1.NewHash(ent.DiffID)
		if err != nil || !slices.Contains(ent.LayerIDs(), h) {
			return false
		}
	}
	return true
}

// read reads a cache's document; blobs makes a layer's reader and
// check tells whether its blob is there.
func read(ctx context.Context, spec Spec, insecure []string) (*Doc, func(Layer) v1.Layer, func(Layer) error, error) {
	switch spec.Type {
	case "local":
		return readLocalCache(spec.Dir)
	}
	cr, err := registry.OpenCache(spec.Ref, registry.Options{Insecure: insecure})
	if err != nil {
		return nil, nil, nil, err
	}
	raw, mt, err := cr.Manifest(ctx)
	if errors.Is(err, registry.ErrNoCache) {
		return nil, nil, nil, errors.New("not found in the registry (a build with --cache-to writes it)")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if mt.IsIndex() {
		return nil, nil, nil, fmt.Errorf("is an image index (%s): name a cache (--cache-to) or a single image pushed with --cache-to type=inline", mt)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("manifest: %w", err)
	}
	doc, err := docOf(m, func(h v1.Hash, max int64) ([]byte, error) { return cr.ReadBlob(ctx, h, max) })
	if err != nil {
		return nil, nil, nil, err
	}
	// A layer is read when a step or the TUI needs it, maybe after this
	// build's context is done (a Session's next build, the Files tab).
	lctx := context.WithoutCancel(ctx)
	blobs := func(l Layer) v1.Layer {
		rl, err := cr.Layer(lctx, l.Digest)
		if err != nil {
			return registry.NewBlobLayer(v1.Descriptor{Digest: l.Digest}, func() (io.ReadCloser, error) { return nil, err })
		}
		return rl
	}
	check := func(l Layer) error { return cr.HasBlob(ctx, l.Digest, l.Size) }
	return doc, blobs, check, nil
}

// docOf finds the cache document of a manifest: a cache artifact's config,
// or an image's inline annotation (its layers are the image's).
func docOf(m *v1.Manifest, read func(v1.Hash, int64) ([]byte, error)) (*Doc, error) {
	var doc Doc
	switch {
	case m.Config.MediaType == ConfigType:
		b, err := read(m.Config.Digest, maxCacheDoc)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("cache document %s is corrupt (%v)", ShortDigest(m.Config.Digest.String()), err)
		}
	case m.Annotations[InlineAnnotation] != "", m.Config.MediaType.IsConfig():
		if a := m.Annotations[InlineAnnotation]; a == "" {
			doc.Version = 1 // a plain image: matched by its history (classic.go)
		} else if err := json.Unmarshal([]byte(a), &doc); err != nil {
			return nil, fmt.Errorf("inline cache annotation is corrupt (%v)", err)
		}
		b, err := read(m.Config.Digest, 8<<20)
		if err != nil {
			return nil, err
		}
		cfg, err := v1.ParseConfigFile(strings.NewReader(string(b)))
		if err != nil {
			return nil, fmt.Errorf("image config: %w", err)
		}
		if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("image has %d layers but %d diffIDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
		}
		doc.Layers = nil
		for i, d := range m.Layers {
			doc.Layers = append(doc.Layers, Layer{DiffID: cfg.RootFS.DiffIDs[i], Digest: d.Digest, Size: d.Size, MediaType: d.MediaType})
		}
		if m.Annotations[InlineAnnotation] == "" {
			if len(cfg.History) == 0 {
				return nil, errors.New("holds no strata cache records and its config has no history, so no step can be proven the same: not used")
			}
			doc.image = cfg
		}
	default:
		return nil, errors.New("holds no strata cache records (neither a cache written by --cache-to nor an image pushed with --cache-to type=inline), so no step can be proven the same: not used")
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("cache format version %d, this strata reads version 1", doc.Version)
	}
	return &doc, nil
}

func readLocalCache(dir string) (*Doc, func(Layer) v1.Layer, func(Layer) error, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("not an OCI layout (%v)", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, nil, err
	}
	read := func(h v1.Hash, max int64) ([]byte, error) {
		if h.Algorithm != "sha256" || len(h.Hex) != 64 {
			return nil, fmt.Errorf("digest %q: want sha256", h)
		}
		rc, err := p.Blob(h)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, max+1))
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > max {
			return nil, fmt.Errorf("blob %s is larger than %d bytes", h, max)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != h.Hex {
			return nil, fmt.Errorf("blob %s does not match its digest: corrupt", h)
		}
		return b, nil
	}
	for _, d := range im.Manifests {
		if d.ArtifactType != ArtifactType && d.Annotations["org.opencontainers.image.ref.name"] != cacheLayoutName {
			continue
		}
		b, err := read(d.Digest, 4<<20)
		if err != nil {
			return nil, nil, nil, err
		}
		m, err := v1.ParseManifest(strings.NewReader(string(b)))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("manifest: %w", err)
		}
		doc, err := docOf(m, read)
		if err != nil {
			return nil, nil, nil, err
		}
		blobs := func(l Layer) v1.Layer {
			return registry.NewBlobLayer(v1.Descriptor{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType}, func() (io.ReadCloser, error) { return p.Blob(l.Digest) })
		}
		check := func(l Layer) error {
			fi, err := os.Stat(filepath.Join(dir, "blobs", "sha256", l.Digest.Hex))
			if err != nil {
				return fmt.Errorf("blob %s is not in %s", l.Digest, dir)
			}
			if fi.Size() != l.Size {
				return fmt.Errorf("blob %s in %s is %d bytes, the cache says %d", l.Digest, dir, fi.Size(), l.Size)
			}
			return nil
		}
		return doc, blobs, check, nil
	}
	return nil, nil, nil, fmt.Errorf("no strata cache in its index.json (a build with --cache-to type=local,dest=%s writes one)", dir)
}

// manifests of the artifact: with the OCI 1.1 artifactType, and the
// fallback without it.
func cacheManifests(config []byte, ls []v1.Layer) (v1.Descriptor, []byte, []byte, error) {
	sum := sha256.Sum256(config)
	cfg := v1.Descriptor{MediaType: ConfigType, Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}, Size: int64(len(config))}
	m := map[string]any{"schemaVersion": 2, "mediaType": types.OCIManifestSchema1, "artifactType": ArtifactType, "config": cfg}
	var descs []v1.Descriptor
	for _, l := range ls {
		d, _ := l.Digest()
		n, _ := l.Size()
		mt, _ := l.MediaType()
		descs = append(descs, v1.Descriptor{MediaType: mt, Digest: d, Size: n})
	}
	if descs == nil {
		descs = []v1.Descriptor{}
	}
	m["layers"] = descs
	with, err := json.Marshal(m)
	if err != nil {
		return cfg, nil, nil, err
	}
	delete(m, "artifactType")
	without, err := json.Marshal(m)
	return cfg, with, without, err
}

// Write writes doc and the layers ls as the cache spec names (a
// registry, or an OCI layout whose previous cache it replaces).
func Write(ctx context.Context, spec Spec, doc *Doc, ls []v1.Layer, insecure []string) error {
	config, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	cfgDesc, with, without, err := cacheManifests(config, ls)
	if err != nil {
		return err
	}
	if spec.Type == "registry" {
		cr, err := registry.OpenCache(spec.Ref, registry.Options{Insecure: insecure})
		if err != nil {
			return err
		}
		return cr.PutCache(ctx, ls, config, ConfigType, with, without)
	}
	// type=local: an OCI layout; the previous cache's entry is replaced.
	p, err := layout.FromPath(spec.Dir)
	if err != nil {
		if p, err = layout.Write(spec.Dir, empty.Index); err != nil {
			return err
		}
	}
	for _, l := range ls {
		d, _ := l.Digest()
		if _, err := os.Stat(filepath.Join(spec.Dir, "blobs", d.Algorithm, d.Hex)); err == nil {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = p.WriteBlob(d, rc)
		if err != nil {
			return err
		}
	}
	if err := p.WriteBlob(cfgDesc.Digest, io.NopCloser(strings.NewReader(string(config)))); err != nil {
		return err
	}
	sum := sha256.Sum256(with)
	md := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if err := p.WriteBlob(md, io.NopCloser(strings.NewReader(string(with)))); err != nil {
		return err
	}
	if err := p.RemoveDescriptors(match.Annotation("org.opencontainers.image.ref.name", cacheLayoutName)); err != nil {
		return err
	}
	return p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: md, Size: int64(len(with)), ArtifactType: ArtifactType,
		Annotations: map[string]string{"org.opencontainers.image.ref.name": cacheLayoutName}})
}
