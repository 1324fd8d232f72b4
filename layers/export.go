package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
)

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

// Image is the stored image whose config blob is config, as
// go-containerregistry sees it: the config byte for byte (so the image id,
// its digest, stays the same wherever the image goes) and its layers
// gzip-compressed (made once and kept, see CompressLayer). Every blob is
// verified as it is read, the config here and the layers while a writer
// copies them: a corrupt one fails with a *CorruptBlobError naming it. It
// is what the OCI layout and docker-archive exports and a push write.
func (s *Store) Image(config v1.Hash) (v1.Image, error) {
	raw, err := s.ReadBlob(config)
	if errors.Is(err, fs.ErrNotExist) && s.materializeMissing(config) { // a step image recorded as a delta
		raw, err = s.ReadBlob(config)
	}
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image config %s: %w", config, err)
	}
	img := &storeImage{raw: raw, layers: map[v1.Hash]*compressedLayer{}, remote: map[v1.Hash]v1.Layer{}}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: config, Size: int64(len(raw))},
		Layers:        []v1.Descriptor{},
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if rl, ok := s.Remote(d); ok { // remote.go: served from where it lives
			img.remote[rl.Digest] = rl.Blob
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: rl.MediaType, Digest: rl.Digest, Size: rl.CompressedSize})
			continue
		}
		meta, err := s.CompressLayer(d)
		var ce *CorruptBlobError
		if errors.As(err, &ce) {
			return nil, ce // names the layer already
		}
		if err != nil {
			return nil, fmt.Errorf("compress layer %s: %w", d, err)
		}
		img.layers[meta.Compressed] = &compressedLayer{s: s, meta: meta}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCILayer, Digest: meta.Compressed, Size: meta.CompressedSize})
	}
	if img.man, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(img)
}

// storeImage is the core partial.CompressedToImage completes: a stored
// config, its manifest and the compressed layers it names.
type storeImage struct {
	raw, man []byte
	layers   map[v1.Hash]*compressedLayer
	remote   map[v1.Hash]v1.Layer
}

func (i *storeImage) RawConfigFile() ([]byte, error)      { return i.raw, nil }
func (i *storeImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *storeImage) RawManifest() ([]byte, error)        { return i.man, nil }
func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	if l, ok := i.remote[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("layer %s is not in this image", h)
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
	return writeLayoutRefs(dir, refs,
		func(p layout.Path) error { return p.AppendImage(img) },
		func(p layout.Path, m match.Matcher, o layout.Option) error { return p.ReplaceImage(img, m, o) })
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
