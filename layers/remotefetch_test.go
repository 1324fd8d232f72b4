package layers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// gatedLayer serves its blob's first byte, then waits for gate: a
// download under way. opens counts the downloads.
type gatedLayer struct {
	v1.Layer
	blob  []byte
	gate  chan struct{}
	opens atomic.Int32
}

func (g *gatedLayer) Compressed() (io.ReadCloser, error) {
	g.opens.Add(1)
	return io.NopCloser(io.MultiReader(bytes.NewReader(g.blob[:1]), gateReader{g.gate}, bytes.NewReader(g.blob[1:]))), nil
}

type gateReader struct{ gate chan struct{} }

func (r gateReader) Read([]byte) (int, error) { <-r.gate; return 0, io.EOF }

func gatedRemote(t *testing.T) (*Store, *gatedLayer, v1.Hash) {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tarb, gz := remoteFixture(t, "hello\n")
	g := &gatedLayer{Layer: static.NewLayer(gz, types.OCILayer), blob: gz, gate: make(chan struct{})}
	s.AddRemote(RemoteLayer{DiffID: sum(tarb), Digest: sum(gz), CompressedSize: int64(len(gz)), Size: int64(len(tarb)), MediaType: types.OCILayer, Blob: g, Source: "test"})
	return s, g, sum(tarb)
}

// TestFetchRemoteOnce: a second caller of a layer being downloaded (the
// TUI while a step fetches it) waits for that download and sees its
// progress; the blob is read once.
func TestFetchRemoteOnce(t *testing.T) {
	s, g, d := gatedRemote(t)
	var wg sync.WaitGroup
	var firstN int64
	var firstErr, joinErr error
	wg.Add(1)
	go func() { defer wg.Done(); firstN, firstErr = s.FetchRemote(d) }()
	for g.opens.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	var mu sync.Mutex
	var seen []int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, joinErr = s.FetchRemoteProgress(d, func(n int64) { mu.Lock(); seen = append(seen, n); mu.Unlock() })
	}()
	time.Sleep(50 * time.Millisecond)
	close(g.gate)
	wg.Wait()
	if firstErr != nil || joinErr != nil {
		t.Fatalf("errors: %v, %v", firstErr, joinErr)
	}
	if n := g.opens.Load(); n != 1 {
		t.Errorf("the blob was downloaded %d times, want once", n)
	}
	if firstN != int64(len(g.blob)) || len(seen) == 0 || seen[len(seen)-1] != int64(len(g.blob)) {
		t.Errorf("downloaded %d, progress seen by the second caller %v; want it to end at %d", firstN, seen, len(g.blob))
	}
	if !s.HasLayer(d) {
		t.Error("the layer is not stored")
	}
}

// TestFetchRemoteCanceled: a download whose context ends stops, stores
// nothing, and the layer is still known remotely (it is not bad).
func TestFetchRemoteCanceled(t *testing.T) {
	s, g, d := gatedRemote(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.FetchRemoteContext(ctx, d, nil); done <- err }()
	for g.opens.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	close(g.gate)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a canceled download did not stop")
	}
	if s.HasLayer(d) {
		t.Error("a canceled download stored the layer")
	}
	if _, ok := s.Remote(d); !ok {
		t.Error("a canceled download forgot the remote layer")
	}
}
