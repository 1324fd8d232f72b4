package layers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Remote layers. A build that imports a shared cache (--cache-from) learns
// of layers by their digests long before it needs their bytes, and often
// never needs them (every step hits and the output is a push to the
// registry that already holds them). Such a layer is known to this Store
// value only, in memory: its diffID, its compressed blob's digest and size,
// and a v1.Layer that can read the blob where it lives. Nothing about it
// is written under ROOT until FetchRemote has the verified bytes: then it
// becomes an ordinary stored layer (blob, unpacked tree, meta), written
// the usual way (scratch, then rename), so a failed or interrupted fetch
// leaves the store as it was.
//
// HasLayer stays false for a remote layer; Layer answers its metadata
// (so an image of remote layers can be described and pushed), and Image
// serves the remote blob for it (a push HEADs it in the target first, so
// a registry that has it is never sent it again).

// RemoteLayer is a layer whose bytes are elsewhere.
type RemoteLayer struct {
	DiffID         v1.Hash
	Digest         v1.Hash // compressed blob
	CompressedSize int64
	Size           int64 // uncompressed tar size (0 when not known)
	MediaType      types.MediaType
	// Blob reads the compressed blob where it lives (a registry's
	// remote.Layer, a file of an OCI layout).
	Blob v1.Layer
	// Source names where it lives, for messages.
	Source string
}

// AddRemote makes l known. A layer already stored is not replaced.
func (s *Store) AddRemote(l RemoteLayer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remote == nil {
		s.remote = map[v1.Hash]RemoteLayer{}
	}
	if _, ok := s.remote[l.DiffID]; !ok {
		s.remote[l.DiffID] = l
	}
}

// DropRemote forgets a remote layer (its blob proved bad).
func (s *Store) DropRemote(diffID v1.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.remote, diffID)
}

// Remote returns the remote layer diffID when it is not stored locally.
func (s *Store) Remote(diffID v1.Hash) (RemoteLayer, bool) {
	s.mu.Lock()
	l, ok := s.remote[diffID]
	s.mu.Unlock()
	if !ok || s.HasLayer(diffID) {
		return RemoteLayer{}, false
	}
	return l, true
}

// Available reports whether the layer is stored or known remotely.
func (s *Store) Available(diffID v1.Hash) bool {
	if s.HasLayer(diffID) {
		return true
	}
	_, ok := s.Remote(diffID)
	return ok
}

// FetchRemote downloads a remote layer's blob, verifies its size and
// digest, unpacks it (verifying its diffID) and stores it as an ordinary
// layer whose compressed blob is the downloaded one (so an export or push
// keeps the same digest). It returns the bytes downloaded (0 when the
// layer was stored already). On any error nothing is added to the store.
func (s *Store) FetchRemote(diffID v1.Hash) (int64, error) {
	return s.FetchRemoteProgress(diffID, nil)
}

// fetches are the downloads under way: a second caller for a layer (the
// TUI's Files tab while a step fetches it) waits for the first and sees
// its progress instead of downloading it again.
var fetches = struct {
	sync.Mutex
	m map[fetchKey]*fetchCall
}{m: map[fetchKey]*fetchCall{}}

type fetchKey struct {
	s *Store
	d v1.Hash
}

type fetchCall struct {
	done     chan struct{}
	n        int64
	err      error
	mu       sync.Mutex
	got      int64
	watchers []func(int64)
}

func (c *fetchCall) watch(f func(int64)) {
	if f == nil {
		return
	}
	c.mu.Lock()
	c.watchers = append(c.watchers, f)
	got := c.got
	c.mu.Unlock()
	f(got)
}

// Write counts the bytes downloaded and tells the watchers.
func (c *fetchCall) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.got += int64(len(p))
	got, ws := c.got, slices.Clone(c.watchers)
	c.mu.Unlock()
	for _, f := range ws {
		f(got)
	}
	return len(p), nil
}

// FetchRemoteProgress is FetchRemote telling progress the compressed
// bytes downloaded so far (from the download's goroutine) as they come.
func (s *Store) FetchRemoteProgress(diffID v1.Hash, progress func(done int64)) (int64, error) {
	return s.FetchRemoteContext(context.Background(), diffID, progress)
}

// FetchRemoteContext is FetchRemoteProgress that stops when ctx is done
// (a layer's reader outlives the build that found it, so the build's
// cancel reaches the download here). A caller that joins a download
// already under way waits for it, whatever its own ctx.
func (s *Store) FetchRemoteContext(ctx context.Context, diffID v1.Hash, progress func(done int64)) (int64, error) {
	k := fetchKey{s, diffID}
	fetches.Lock()
	if c, ok := fetches.m[k]; ok {
		fetches.Unlock()
		c.watch(progress)
		<-c.done
		return 0, c.err
	}
	c := &fetchCall{done: make(chan struct{})}
	fetches.m[k] = c
	fetches.Unlock()
	c.watch(progress)
	c.n, c.err = s.fetchRemote(ctx, diffID, c)
	fetches.Lock()
	delete(fetches.m, k)
	fetches.Unlock()
	close(c.done)
	return c.n, c.err
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func (s *Store) fetchRemote(ctx context.Context, diffID v1.Hash, count io.Writer) (int64, error) {
	if s.HasLayer(diffID) {
		return 0, nil
	}
	l, ok := s.Remote(diffID)
	if !ok {
		return 0, fmt.Errorf("layer %s is neither stored nor known in a cache (--cache-from)", diffID)
	}
	had := s.HasBlob(l.Digest)
	rc, err := l.Blob.Compressed()
	if err != nil {
		return 0, fmt.Errorf("layer %s: blob %s from %s: %w", diffID, l.Digest, l.Source, err)
	}
	w, err := s.NewBlobWriter()
	if err != nil {
		rc.Close()
		return 0, err
	}
	n, err := io.Copy(io.MultiWriter(w, count), io.LimitReader(ctxReader{ctx, rc}, l.CompressedSize+1))
	rc.Close()
	if err != nil {
		w.Abort()
		return n, fmt.Errorf("layer %s: blob %s from %s: download failed after %d bytes: %w", diffID, l.Digest, l.Source, n, err)
	}
	if n != l.CompressedSize {
		w.Abort()
		return n, fmt.Errorf("layer %s: blob %s from %s is %d bytes, the cache says %d: refused", diffID, l.Digest, l.Source, n, l.CompressedSize)
	}
	if _, _, err := w.Commit(l.Digest); err != nil {
		return n, fmt.Errorf("layer %s: blob from %s: %w: refused", diffID, l.Source, err)
	}
	undo := func() {
		if !had {
			os.Remove(s.blobPath(l.Digest))
		}
	}
	f, err := s.OpenBlob(l.Digest)
	if err != nil {
		undo()
		return n, err
	}
	defer f.Close()
	r, closeR, err := decompress(f)
	if err != nil {
		undo()
		return n, fmt.Errorf("layer %s: blob %s from %s: %w", diffID, l.Digest, l.Source, err)
	}
	meta, err := s.ImportLayer(r, diffID)
	closeR()
	if err != nil {
		undo()
		return n, fmt.Errorf("layer %s: blob %s from %s: %w", diffID, l.Digest, l.Source, err)
	}
	if meta.Compressed.Hex == "" {
		meta.Compressed, meta.CompressedSize = l.Digest, l.CompressedSize
		if err := s.writeLayerMeta(meta); err != nil {
			return n, err
		}
	}
	s.DropRemote(diffID)
	return n, nil
}

// decompress reads a gzip, zstd or plain tar stream.
func decompress(f io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(f, 1<<20)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := pgzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// remoteLayerMeta is Layer's answer for a remote layer.
func (s *Store) remoteLayerMeta(diffID v1.Hash) (LayerMeta, bool) {
	l, ok := s.Remote(diffID)
	if !ok {
		return LayerMeta{}, false
	}
	return LayerMeta{DiffID: l.DiffID, Size: l.Size, Compressed: l.Digest, CompressedSize: l.CompressedSize}, true
}
