package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// View is the merged filesystem of a chain of stored layers (diffIDs base
// first, as in a config's rootfs), read through their unpacked dirs.
func (s *Store) View(diffIDs []v1.Hash) *View {
	v := &View{}
	for i := len(diffIDs) - 1; i >= 0; i-- {
		v.Lowers = append(v.Lowers, s.LayerFS(diffIDs[i]))
	}
	return v
}

// DiffLayer reads an overlay upper dir into a pending layer: the tar and
// its change list (changes.json) in dir. The list is streamed to its file
// as the tar is written, never held: the pending layer counts it.
func DiffLayer(upper string, lowers []string, dir string, opt DiffOptions) (*PendingLayer, error) {
	tf, err := os.Create(filepath.Join(dir, "layer.tar"))
	if err != nil {
		return nil, err
	}
	cw, err := createChanges(filepath.Join(dir, "changes.json"))
	if err != nil {
		tf.Close()
		os.Remove(tf.Name())
		return nil, err
	}
	h := sha256.New()
	w := &countWriter{w: io.MultiWriter(tf, h)}
	err = DiffTo(upper, lowers, w, opt, cw.add)
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = cw.close()
	} else {
		cw.abort()
	}
	if err != nil {
		os.Remove(tf.Name())
		os.Remove(cw.f.Name())
		return nil, err
	}
	return &PendingLayer{
		Tar:         tf.Name(),
		DiffID:      v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		Size:        w.n,
		ChangesFile: cw.f.Name(),
		Files:       cw.n,
		Stats:       cw.stats,
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
