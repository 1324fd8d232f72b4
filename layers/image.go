package layers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"

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

// compressedLayer is a stored layer, gzip-compressed once (with all cores)
// and kept as a blob so later exports reuse it.
type compressedLayer struct {
	s    *Store
	meta LayerMeta
}

func (l *compressedLayer) Digest() (v1.Hash, error)            { return l.meta.Compressed, nil }
func (l *compressedLayer) DiffID() (v1.Hash, error)            { return l.meta.DiffID, nil }
func (l *compressedLayer) Size() (int64, error)                { return l.meta.CompressedSize, nil }
func (l *compressedLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *compressedLayer) Compressed() (io.ReadCloser, error) {
	return l.s.OpenBlobVerified(l.meta.Compressed)
}
func (l *compressedLayer) Uncompressed() (io.ReadCloser, error) {
	return l.s.OpenBlobVerified(l.meta.DiffID)
}

var compressMu sync.Mutex // one compression at a time: each uses every core

// CompressLayer makes (once) the gzip blob of a stored layer. The layer's
// tar is verified as it is compressed.
func (s *Store) CompressLayer(diffID v1.Hash) (LayerMeta, error) {
	meta, err := s.Layer(diffID)
	if err != nil {
		return meta, err
	}
	if meta.Compressed.Hex != "" && s.HasBlob(meta.Compressed) {
		return meta, nil
	}
	compressMu.Lock()
	defer compressMu.Unlock()
	src, err := s.OpenBlobVerified(diffID)
	if err != nil {
		return meta, err
	}
	defer src.Close()
	w, err := s.NewBlobWriter()
	if err != nil {
		return meta, err
	}
	zw, err := pgzip.NewWriterLevel(w, pgzip.DefaultCompression)
	if err != nil {
		w.Abort()
		return meta, err
	}
	zw.SetConcurrency(1<<20, 2*runtime.GOMAXPROCS(0))
	if _, err := io.Copy(zw, src); err != nil {
		w.Abort()
		return meta, err
	}
	if err := zw.Close(); err != nil {
		w.Abort()
		return meta, err
	}
	d, n, err := w.Commit(v1.Hash{})
	if err != nil {
		return meta, err
	}
	meta.Compressed, meta.CompressedSize = d, n
	return meta, s.writeLayerMeta(meta)
}

// exportImage is a stored image with compressed layers.
type exportImage struct {
	s      *Store
	raw    []byte
	layers map[v1.Hash]*compressedLayer
	man    []byte
}

func (e *exportImage) RawConfigFile() ([]byte, error)      { return e.raw, nil }
func (e *exportImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (e *exportImage) RawManifest() ([]byte, error)        { return e.man, nil }
func (e *exportImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := e.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("layer %s not in image", h)
}

// ExportImage returns a v1.Image for the config (whose layers are stored),
// with gzip-compressed layers, ready for any ggcr writer (OCI layout,
// docker tarball, registry).
func (s *Store) ExportImage(cfg *v1.ConfigFile) (v1.Image, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if len(cfg.RootFS.DiffIDs) == 0 {
		// An image without layers: mutate from empty keeps ggcr's rules.
		return partial.CompressedToImage(&exportImage{s: s, raw: raw, layers: map[v1.Hash]*compressedLayer{}, man: mustManifest(raw, nil)})
	}
	e := &exportImage{s: s, raw: raw, layers: map[v1.Hash]*compressedLayer{}}
	var descs []v1.Descriptor
	for _, d := range cfg.RootFS.DiffIDs {
		meta, err := s.CompressLayer(d)
		var ce *CorruptBlobError
		if errors.As(err, &ce) {
			return nil, ce // names the layer already
		}
		if err != nil {
			return nil, fmt.Errorf("compress layer %s: %w", d, err)
		}
		e.layers[meta.Compressed] = &compressedLayer{s: s, meta: meta}
		descs = append(descs, v1.Descriptor{MediaType: types.OCILayer, Digest: meta.Compressed, Size: meta.CompressedSize})
	}
	e.man = mustManifest(raw, descs)
	return partial.CompressedToImage(e)
}

func mustManifest(rawCfg []byte, layers []v1.Descriptor) []byte {
	h, n, _ := v1.SHA256(strings.NewReader(string(rawCfg)))
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: h, Size: n},
		Layers:        layers,
	}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	b, _ := json.Marshal(m)
	return b
}

// WriteOCILayout writes img into an OCI layout dir (created or appended),
// tagged with ref names (org.opencontainers.image.ref.name). On error,
// what it added is removed again (the dir itself when it made it): a blob
// found corrupt while it is copied leaves no half-written layout.
func WriteOCILayout(dir string, img v1.Image, refs []string) (err error) {
	undo, err := layoutUndo(dir, img)
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	p, err := layout.FromPath(dir)
	if err != nil {
		p, err = layout.Write(dir, empty.Index)
		if err != nil {
			return fmt.Errorf("oci layout %s: %w", dir, err)
		}
	}
	if len(refs) == 0 {
		refs = []string{""}
	}
	for _, r := range refs {
		if r == "" {
			if err := p.AppendImage(img); err != nil {
				return fmt.Errorf("oci layout %s: %w", dir, err)
			}
			continue
		}
		// As BuildKit's oci exporter: ref.name is the tag, the containerd
		// annotation the full name.
		full := r
		short := r
		if t, err := name.NewTag(r); err == nil {
			full = t.Name()
			short = t.TagStr()
		}
		ann := map[string]string{
			"org.opencontainers.image.ref.name": short,
			"io.containerd.image.name":          full,
		}
		if err := p.ReplaceImage(img, refMatcher(short), layout.WithAnnotations(ann)); err != nil {
			return fmt.Errorf("oci layout %s: %w", dir, err)
		}
	}
	return nil
}

// layoutUndo notes which of the files that writing img into the layout
// dir can add are there already, and returns a func that removes the
// others (the whole dir when there is none yet).
func layoutUndo(dir string, img v1.Image) (func(), error) {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return func() { removeAllForce(dir) }, nil
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	md, err := img.Digest()
	if err != nil {
		return nil, err
	}
	files := []string{"oci-layout", "index.json"}
	for _, d := range append([]v1.Descriptor{{Digest: md}, m.Config}, m.Layers...) {
		files = append(files, filepath.Join("blobs", d.Digest.Algorithm, d.Digest.Hex))
	}
	files = append(files, filepath.Join("blobs", "sha256"), "blobs") // dirs last
	var added []string
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f)); errors.Is(err, fs.ErrNotExist) {
			added = append(added, filepath.Join(dir, f))
		}
	}
	return func() {
		for _, f := range added {
			os.Remove(f)
		}
	}, nil
}

func refMatcher(ref string) func(v1.Descriptor) bool {
	return func(d v1.Descriptor) bool { return d.Annotations["org.opencontainers.image.ref.name"] == ref }
}

// WriteDockerArchive writes a `docker load` / `podman load` tarball with
// the given tags (or none).
func WriteDockerArchive(file string, img v1.Image, tags []string) error {
	refToImage := map[name.Reference]v1.Image{}
	for _, t := range tags {
		tag, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("tag %q: %w", t, err)
		}
		refToImage[tag] = img
	}
	return WriteFileAtomic(file, func(w io.Writer) error {
		if len(refToImage) == 0 {
			d, err := img.Digest()
			if err != nil {
				return err
			}
			ref, _ := name.NewDigest("strata/image@" + d.String())
			return tarball.Write(ref, img, w)
		}
		return tarball.MultiRefWrite(refToImage, w)
	})
}

// HistoryComment is the comment of the history entries a Dockerfile build
// writes (BuildKit's).
const HistoryComment = "buildkit.dockerfile.v0"
