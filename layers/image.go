package layers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/internal/platforms"
)

// SaveImage stores an image made of a config whose rootfs.diff_ids are all
// stored layers: the config and an OCI manifest (layers kept uncompressed)
// are written as blobs. It returns the record to Tag with.
func (s *Store) SaveImage(cfg *v1.ConfigFile) (ImageRecord, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return ImageRecord{}, err
	}
	cfgDigest, err := s.PutBytes(raw)
	if err != nil {
		return ImageRecord{}, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: int64(len(raw))},
	}
	var total int64
	for _, d := range cfg.RootFS.DiffIDs {
		meta, err := s.Layer(d)
		if err != nil {
			return ImageRecord{}, err
		}
		total += meta.Size
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: d, Size: meta.Size})
	}
	mraw, err := json.Marshal(m)
	if err != nil {
		return ImageRecord{}, err
	}
	md, err := s.PutBytes(mraw)
	if err != nil {
		return ImageRecord{}, err
	}
	return ImageRecord{Manifest: md, Config: cfgDigest, Size: total, Created: cfg.Created.Time}, nil
}

// LoadConfig reads a stored image's config by record.
func (s *Store) LoadConfig(rec ImageRecord) (*v1.ConfigFile, error) {
	b, err := s.ReadBlob(rec.Config)
	if errors.Is(err, fs.ErrNotExist) && s.materializeMissing(rec.Config) { // a step image recorded as a delta
		b, err = s.ReadBlob(rec.Config)
	}
	if err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("image config %s: %w", rec.Config, err)
	}
	return &cfg, nil
}

// Progress reports bytes moved for one layer during import or export.
type Progress func(layer v1.Hash, done, total int64)

// ImportImage stores every layer of img that the store lacks (verifying
// each layer's diffID against the config) and the config. It returns the
// image's config.
func (s *Store) ImportImage(img v1.Image, progress Progress) (*v1.ConfigFile, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("read image layers: %w", err)
	}
	if len(ls) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image has %d layers but its config lists %d diff_ids", len(ls), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range ls {
		want := cfg.RootFS.DiffIDs[i]
		if s.HasLayer(want) {
			continue
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		var r io.Reader = rc
		if progress != nil {
			total, _ := l.Size()
			r = &progressReader{r: rc, fn: func(n int64) { progress(want, n, total) }}
		}
		_, err = s.ImportLayer(r, want)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i+1, want, err)
		}
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if _, err := s.PutBytes(raw); err != nil {
		return nil, err
	}
	return cfg, nil
}

type progressReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.fn(p.n)
	return n, err
}

// ReadOCILayout opens image "tag" (or the only image) of an OCI layout dir.
func ReadOCILayout(dir, tag string, platform *v1.Platform) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("oci:%s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("oci:%s: %w", dir, err)
	}
	var pick *v1.Descriptor
	for i, d := range im.Manifests {
		ref := d.Annotations["org.opencontainers.image.ref.name"]
		full := d.Annotations["io.containerd.image.name"]
		if tag == "" && len(im.Manifests) == 1 || tag != "" && (ref == tag || full == tag || strings.HasSuffix(full, "/"+tag) || strings.HasSuffix(ref, ":"+tag)) {
			pick = &im.Manifests[i]
			break
		}
	}
	if pick == nil {
		var names []string
		for _, d := range im.Manifests {
			names = append(names, d.Annotations["org.opencontainers.image.ref.name"])
		}
		if tag == "" {
			return nil, fmt.Errorf("oci:%s holds %d images (%s): name one as oci:%s:TAG", dir, len(im.Manifests), strings.Join(names, ", "), dir)
		}
		return nil, fmt.Errorf("oci:%s has no image tagged %q (it has: %s)", dir, tag, strings.Join(names, ", "))
	}
	if pick.MediaType.IsIndex() {
		child, err := idx.ImageIndex(pick.Digest)
		if err != nil {
			return nil, err
		}
		return pickPlatform(child, platform)
	}
	return idx.Image(pick.Digest)
}

func pickPlatform(idx v1.ImageIndex, platform *v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	want := platforms.Host()
	if platform != nil {
		want = *platform
	}
	var seen []string
	offered := make([]*v1.Platform, len(im.Manifests))
	for i, d := range im.Manifests {
		if d.Platform != nil {
			seen = append(seen, d.Platform.String())
			offered[i] = d.Platform
		}
	}
	if i := platforms.Pick(offered, want); i >= 0 {
		return idx.Image(im.Manifests[i].Digest)
	}
	return nil, fmt.Errorf("no image for platform %s (index has: %s)", want.String(), strings.Join(seen, ", "))
}

// ReadDockerArchive opens an image of a `docker save` tarball.
func ReadDockerArchive(file, ref string) (v1.Image, error) {
	var tag *name.Tag
	if ref != "" {
		t, err := name.NewTag(ref)
		if err != nil {
			return nil, fmt.Errorf("docker-archive:%s:%s: %w", file, ref, err)
		}
		tag = &t
	}
	img, err := tarball.ImageFromPath(file, tag)
	if err != nil {
		return nil, fmt.Errorf("docker-archive:%s: %w", file, err)
	}
	return img, nil
}

// HistoryComment is the comment of the history entries a Dockerfile build
// writes (BuildKit's).
const HistoryComment = "buildkit.dockerfile.v0"
