package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-build/strata/layers"
)

// corruptStore is a store holding image "img:1" of one layer (owned by
// the user running the test: no root needed).
func corruptStore(t *testing.T) (*layers.Store, layers.ImageRecord, *v1.ConfigFile) {
	t.Helper()
	s, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := strings.Repeat("pushed content ", 1000)
	tw.WriteHeader(&tar.Header{Name: "data.txt", Mode: 0o644, Size: int64(len(body)), Uid: os.Getuid(), Gid: os.Getgid(), Format: tar.FormatPAX})
	tw.Write([]byte(body))
	tw.Close()
	meta, err := s.ImportLayer(&buf, v1.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &v1.ConfigFile{Architecture: "amd64", OS: "linux", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{meta.DiffID}}}
	rec, err := s.SaveImage(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("img:1", rec); err != nil {
		t.Fatal(err)
	}
	return s, rec, cfg
}

func flip(t *testing.T, s *layers.Store, h v1.Hash) {
	t.Helper()
	p := filepath.Join(s.Root(), "blobs", h.Algorithm, h.Hex)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

// TestPushCorruptBlob: a push reads the store's layer and config blobs
// verified: a flipped byte fails the push with the blob's digest and what
// to do, and the registry gets no manifest and not the corrupt blob.
func TestPushCorruptBlob(t *testing.T) {
	for _, which := range []string{"layer", "compressed", "config"} {
		t.Run(which, func(t *testing.T) {
			s, rec, cfg := corruptStore(t)
			var bad v1.Hash
			switch which {
			case "layer":
				bad = cfg.RootFS.DiffIDs[0]
			case "compressed":
				// an earlier push made and kept the gzip blob
				if _, err := Push(context.Background(), s, "img:1", newRegistry(t).host+"/first/img:1", Options{}); err != nil {
					t.Fatal(err)
				}
				m, _ := s.Layer(cfg.RootFS.DiffIDs[0])
				bad = m.Compressed
			case "config":
				bad = rec.Config
			}
			flip(t, s, bad)
			reg := newRegistry(t)
			dest := reg.host + "/dst/img:1"
			_, err := Push(context.Background(), s, "img:1", dest, Options{})
			t.Logf("push: %v", err)
			var ce *layers.CorruptBlobError
			if !errors.As(err, &ce) || ce.Digest != bad {
				t.Fatalf("push = %v; want blob %s reported corrupt", err, bad)
			}
			if !strings.Contains(err.Error(), "blob "+bad.String()+" is corrupt (content hashes to sha256:") {
				t.Errorf("error %q does not name the blob and what it hashes to", err)
			}
			ref, _ := name.ParseReference(dest)
			if _, err := remote.Head(ref); err == nil {
				t.Errorf("the registry has a manifest for %s after a failed push", dest)
			}
			for _, r := range reg.requests() {
				if strings.HasPrefix(r, "PUT /v2/dst/img/manifests/") {
					t.Errorf("the manifest was sent: %s", r)
				}
			}
			if which == "compressed" {
				resp, err := http.Head("http://" + reg.host + "/v2/dst/img/blobs/" + bad.String())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("HEAD of the corrupt blob in the registry: HTTP %d, want 404", resp.StatusCode)
				}
			}
		})
	}
}
