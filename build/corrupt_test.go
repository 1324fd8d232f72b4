package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
)

// storedBase stores image "base:1" of one layer (owned by the user
// running the test) without building it.
func storedBase(t *testing.T, s *layers.Store) (layers.ImageRecord, *v1.ConfigFile) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := strings.Repeat("base layer ", 1000)
	tw.WriteHeader(&tar.Header{Name: "base.txt", Mode: 0o644, Size: int64(len(body)), Uid: os.Getuid(), Gid: os.Getgid(), Format: tar.FormatPAX})
	tw.Write([]byte(body))
	tw.Close()
	meta, err := s.ImportLayer(&buf, v1.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &v1.ConfigFile{Architecture: platforms.Host().Architecture, OS: "linux", Config: v1.Config{Cmd: []string{"/bin/true"}},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{meta.DiffID}}}
	rec, err := s.SaveImage(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("base:1", rec); err != nil {
		t.Fatal(err)
	}
	return rec, cfg
}

func flipBlob(t *testing.T, s *layers.Store, h v1.Hash) {
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

func wantCorruptBlob(t *testing.T, err error, h v1.Hash) {
	t.Helper()
	var ce *layers.CorruptBlobError
	if !errors.As(err, &ce) || ce.Digest != h {
		t.Fatalf("error = %v; want blob %s reported corrupt", err, h)
	}
	if !strings.Contains(err.Error(), "blob "+h.String()+" is corrupt (content hashes to sha256:") {
		t.Errorf("error %q does not name the blob and what its content hashes to", err)
	}
}

// TestCorruptConfigRun: an edited config blob is not run (strata run
// loads the image with LoadImage) nor built upon as the image it claims to
// be.
func TestCorruptConfigRun(t *testing.T) {
	s := newStore(t)
	rec, _ := storedBase(t, s)
	flipBlob(t, s, rec.Config)
	_, err := snapshot.LoadImage(context.Background(), s, "base:1")
	wantCorruptBlob(t, err, rec.Config)

	s2 := newStore(t)
	rec2, _ := storedBase(t, s2)
	flipBlob(t, s2, rec2.Config)
	r := build(t, s2, "FROM base:1\nLABEL a=b\n", nil, frontend.Options{})
	wantCorruptBlob(t, r.err, rec2.Config)
}

// TestCorruptLayerExport: -o type=oci|docker of an image whose layer blob
// is corrupt fails with the blob's digest, and leaves no output.
func TestCorruptLayerExport(t *testing.T) {
	for _, typ := range []string{"oci", "docker"} {
		t.Run(typ, func(t *testing.T) {
			s := newStore(t)
			_, cfg := storedBase(t, s)
			flipBlob(t, s, cfg.RootFS.DiffIDs[0])
			out := t.TempDir()
			dest := filepath.Join(out, "image")
			r := build(t, s, "FROM base:1\nLABEL a=b\n", nil, frontend.Options{Outputs: []frontend.Output{{Type: typ, Dest: dest}}})
			wantCorruptBlob(t, r.err, cfg.RootFS.DiffIDs[0])
			if des, _ := os.ReadDir(out); len(des) != 0 {
				t.Errorf("a failed export left %v in %s", des, out)
			}
		})
	}
}
