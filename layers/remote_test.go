package layers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func sum(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// remoteFixture is a one-file layer: its tar, its gzip blob.
func remoteFixture(t *testing.T, content string) (tarb, gz []byte) {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(tb.Bytes())
	zw.Close()
	return tb.Bytes(), zb.Bytes()
}

// TestFetchRemote: a remote layer is stored only once its blob digest,
// size and diffID are verified; any mismatch leaves the store as it was.
func TestFetchRemote(t *testing.T) {
	tarb, gz := remoteFixture(t, "hi\n")
	_, otherGz := remoteFixture(t, "other\n")
	good := RemoteLayer{DiffID: sum(tarb), Digest: sum(gz), CompressedSize: int64(len(gz)), Size: int64(len(tarb)),
		MediaType: types.OCILayer, Blob: static.NewLayer(gz, types.OCILayer), Source: "test"}

	for _, tc := range []struct {
		name string
		l    RemoteLayer
		err  string
	}{
		{"wrong digest", func() RemoteLayer {
			l := good
			l.Blob = static.NewLayer(otherGz, types.OCILayer)
			l.CompressedSize = int64(len(otherGz))
			return l
		}(), "digest mismatch"},
		{"wrong size", func() RemoteLayer { l := good; l.CompressedSize++; return l }(), "the cache says"},
		{"wrong diffID", func() RemoteLayer { l := good; l.DiffID = sum([]byte("x")); return l }(), "but the image says"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.AddRemote(tc.l)
			if _, err := s.FetchRemote(tc.l.DiffID); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one saying %q", err, tc.err)
			}
			if s.HasLayer(tc.l.DiffID) || s.HasBlob(good.Digest) || s.HasBlob(sum(otherGz)) {
				t.Error("something of the refused layer stayed in the store")
			}
			if des, _ := os.ReadDir(filepath.Join(s.Root(), "layers")); len(des) != 0 {
				t.Errorf("layers/ holds %d entries after a refused fetch", len(des))
			}
		})
	}

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddRemote(good)
	if m, err := s.Layer(good.DiffID); err != nil || m.Compressed != good.Digest || m.Size != good.Size {
		t.Errorf("Layer of a remote layer: %+v, %v", m, err)
	}
	if s.HasLayer(good.DiffID) || !s.Available(good.DiffID) {
		t.Error("a remote layer must be available but not stored")
	}
	n, err := s.FetchRemote(good.DiffID)
	if err != nil || n != int64(len(gz)) {
		t.Fatalf("FetchRemote: %d bytes, %v", n, err)
	}
	if !s.HasLayer(good.DiffID) {
		t.Fatal("not stored")
	}
	if _, ok := s.Remote(good.DiffID); ok {
		t.Error("still remote after the fetch")
	}
	m, err := s.Layer(good.DiffID)
	if err != nil || m.Compressed != good.Digest {
		t.Errorf("meta %+v: the compressed blob must be the fetched one (same digest on push)", m)
	}
	if b, err := os.ReadFile(filepath.Join(s.LayerFS(good.DiffID), "hello.txt")); err != nil || string(b) != "hi\n" {
		t.Errorf("unpacked: %q, %v", b, err)
	}
}
