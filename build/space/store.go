package space

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/layers/beneath"
)

// storeSource reads the layers of the image from the store: the change
// lists kept with them (read from the tars for imported layers) and file
// contents from the unpacked layer, beneath its root.
type storeSource struct {
	s     *layers.Store
	ids   []v1.Hash
	roots map[int]*beneath.Root
	ctx   context.Context
}

func (x *storeSource) Changes(i int) ([]layers.Change, error) {
	if err := x.ctx.Err(); err != nil {
		return nil, err
	}
	return x.s.ChangeList(x.ids[i], x.ids[:i])
}

func (x *storeSource) Digest(i int, p string) (string, error) {
	if err := x.ctx.Err(); err != nil {
		return "", err
	}
	r := x.roots[i]
	if r == nil {
		var err error
		if r, err = beneath.Open(x.s.LayerFS(x.ids[i]), beneath.NoSymlinks); err != nil {
			return "", err
		}
		x.roots[i] = r
	}
	f, err := r.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func (x *storeSource) close() {
	for _, r := range x.roots {
		r.Close()
	}
}

// Options tune Run.
type Options struct {
	// Compress makes the gzip blob of layers whose compressed size the
	// store does not know yet (as an export or push would, once; kept in
	// the store), so the analysis has what a pull costs.
	Compress bool
	// NoCache neither reads nor writes the cached analysis.
	NoCache bool
}

// cachePath is where the analysis of these layers of this image is kept:
// ROOT/space/<sha256 of the version, image id and layers>.json.
func cachePath(s *layers.Store, imageID string, in []Layer) string {
	b, _ := json.Marshal(struct {
		V  int
		ID string
		L  []Layer
	}{Version, imageID, in})
	sum := sha256.Sum256(b)
	return filepath.Join(s.Root(), "space", hex.EncodeToString(sum[:])+".json")
}

// Run is the analysis of an image's layers in the store: the cached one
// when these layers were analysed before, else Analyze's (then cached).
// The layer sizes are the store's.
func Run(ctx context.Context, s *layers.Store, imageID string, in []Layer, opt Options) (*Analysis, error) {
	file := cachePath(s, imageID, in)
	var a *Analysis
	if !opt.NoCache {
		if b, err := os.ReadFile(file); err == nil {
			var c Analysis
			if json.Unmarshal(b, &c) == nil && c.Version == Version && len(c.Layers) == len(in) {
				a = &c
			}
		}
	}
	fresh := a == nil
	if fresh {
		ids := make([]v1.Hash, len(in))
		for i, l := range in {
			ids[i] = l.DiffID
		}
		src := &storeSource{s: s, ids: ids, roots: map[int]*beneath.Root{}, ctx: ctx}
		a = Analyze(in, src)
		src.close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a.ImageID = imageID
	}
	for i := range a.Layers {
		l := &a.Layers[i]
		m, err := s.Layer(l.DiffID)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		if m.CompressedSize == 0 && opt.Compress {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if m, err = s.CompressLayer(l.DiffID); err != nil {
				return nil, fmt.Errorf("layer %d: compress: %w", i+1, err)
			}
		}
		l.TarBytes, l.Compressed = m.Size, m.CompressedSize
	}
	a.Sum()
	if fresh && !opt.NoCache && len(a.Errors) == 0 {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err == nil {
			b, err := json.Marshal(a)
			if err == nil {
				err = layers.WriteFileBytes(file, b)
			}
			if err != nil && !errors.Is(err, fs.ErrPermission) {
				return a, fmt.Errorf("keep the analysis: %w", err)
			}
		}
	}
	return a, nil
}
