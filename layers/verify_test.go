package layers

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// testImage stores a one-layer image named "corrupt:1" (owned by the
// user running the test, so no root is needed) and returns its record and
// config.
func testImage(t *testing.T, s *Store) (ImageRecord, *v1.ConfigFile) {
	t.Helper()
	uid, gid := os.Getuid(), os.Getgid()
	var ents []tent
	for _, e := range []tent{dirent("app/", 0o755), file("app/a.txt", strings.Repeat("layer content ", 500), 0o644), file("app/b", "bee", 0o600)} {
		e.hdr.Uid, e.hdr.Gid = uid, gid
		ents = append(ents, e)
	}
	meta, err := s.ImportLayer(bytes.NewReader(tarBytes(t, ents...)), v1.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &v1.ConfigFile{Architecture: "amd64", OS: "linux", Config: v1.Config{Cmd: []string{"/app/b"}},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{meta.DiffID}}}
	rec, err := s.SaveImage(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("corrupt:1", rec); err != nil {
		t.Fatal(err)
	}
	return rec, cfg
}

// flipByte changes one byte in the middle of a stored blob, as a bad disk
// or a stray edit would.
func flipByte(t *testing.T, s *Store, h v1.Hash) {
	t.Helper()
	p := s.blobPath(h)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o444)
}

// wantCorrupt checks that err reports blob h as corrupt, with what to do.
func wantCorrupt(t *testing.T, err error, h v1.Hash) {
	t.Helper()
	var ce *CorruptBlobError
	if !errors.As(err, &ce) || ce.Digest != h {
		t.Fatalf("error = %v; want blob %s reported corrupt", err, h)
	}
	for _, want := range []string{"blob " + h.String() + " is corrupt (content hashes to sha256:", "build the image again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// listTree lists the files under dir with their sizes ("" when dir is
// absent).
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(dir, p)
			b.WriteString(rel)
			if !fi.IsDir() {
				b.WriteString(" " + fi.ModTime().String())
			}
			b.WriteString("\n")
		}
		return nil
	})
	return b.String()
}

// TestCorruptLayerBlob: a flipped byte in a layer's tar fails the export
// (before anything is written), and the corrupt blob leaves the store so
// that the layer is made anew.
func TestCorruptLayerBlob(t *testing.T) {
	s := openStore(t)
	rec, cfg := testImage(t, s)
	d := cfg.RootFS.DiffIDs[0]
	flipByte(t, s, d)

	_, err := s.Image(rec.Config)
	wantCorrupt(t, err, d)
	if s.HasBlob(d) || s.HasLayer(d) {
		t.Errorf("the corrupt blob is still in the store")
	}
	m, _ := s.Layer(d)
	if m.Compressed.Hex != "" {
		t.Errorf("a compressed blob was made of the corrupt tar: %s", m.Compressed)
	}
	// Reading it again is an error that says it is missing.
	if _, err := s.Image(rec.Config); err == nil {
		t.Errorf("export without the layer's blob succeeded")
	}
	// The next import (a pull) stores it again.
	uid, gid := os.Getuid(), os.Getgid()
	var ents []tent
	for _, e := range []tent{dirent("app/", 0o755), file("app/a.txt", strings.Repeat("layer content ", 500), 0o644), file("app/b", "bee", 0o600)} {
		e.hdr.Uid, e.hdr.Gid = uid, gid
		ents = append(ents, e)
	}
	if _, err := s.ImportLayer(bytes.NewReader(tarBytes(t, ents...)), d); err != nil {
		t.Fatal(err)
	}
	if !s.HasLayer(d) {
		t.Fatal("the layer was not stored again")
	}
	if _, err := s.Image(rec.Config); err != nil {
		t.Fatalf("export after the layer was stored again: %v", err)
	}
}

// TestCorruptCompressedBlob: a flipped byte in the gzip blob kept from an
// earlier export fails the next export while it is copied, and leaves
// nothing half-written in the destination: no OCI layout dir, no new
// blob in an existing layout, no docker tarball.
func TestCorruptCompressedBlob(t *testing.T) {
	for _, dest := range []string{"new-oci", "existing-oci", "docker"} {
		t.Run(dest, func(t *testing.T) {
			s := openStore(t)
			rec, cfg := testImage(t, s)
			img, err := s.Image(rec.Config)
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			other := filepath.Join(out, "other")
			if err := WriteOCILayout(other, img, []string{"first"}); err != nil {
				t.Fatal(err)
			}
			m, _ := s.Layer(cfg.RootFS.DiffIDs[0])
			flipByte(t, s, m.Compressed)
			// A second image sharing nothing with the layout: a changed config.
			cfg2 := cfg.DeepCopy()
			cfg2.Config.Cmd = []string{"/app/a.txt"}
			rec2, err := s.SaveImage(cfg2)
			if err != nil {
				t.Fatal(err)
			}
			img2, err := s.Image(rec2.Config)
			if err != nil {
				t.Fatal(err)
			}
			switch dest {
			case "new-oci":
				dir := filepath.Join(out, "oci")
				wantCorrupt(t, WriteOCILayout(dir, img2, []string{"x"}), m.Compressed)
				if _, err := os.Lstat(dir); err == nil {
					t.Errorf("a failed export left %s:\n%s", dir, listTree(t, dir))
				}
			case "existing-oci":
				// Remove the good layer from the layout, so it is copied again.
				os.Remove(filepath.Join(other, "blobs", "sha256", m.Compressed.Hex))
				before := listTree(t, other)
				wantCorrupt(t, WriteOCILayout(other, img2, []string{"second"}), m.Compressed)
				if after := listTree(t, other); after != before {
					t.Errorf("a failed export changed the layout:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			case "docker":
				file := filepath.Join(out, "image.tar")
				wantCorrupt(t, WriteDockerArchive(file, img2, []string{"corrupt:1"}), m.Compressed)
				if des, _ := os.ReadDir(out); len(des) != 1 {
					t.Errorf("a failed export left files in %s:\n%s", out, listTree(t, out))
				}
			}
			if s.HasBlob(m.Compressed) {
				t.Errorf("the corrupt blob is still in the store")
			}
			// The next export compresses the layer again.
			img3, err := s.Image(rec2.Config)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteOCILayout(filepath.Join(out, "again"), img3, nil); err != nil {
				t.Fatalf("export after the corrupt blob was dropped: %v", err)
			}
		})
	}
}

// TestCorruptConfigBlob: an edited config is not read as the image it
// claims to be.
func TestCorruptConfigBlob(t *testing.T) {
	s := openStore(t)
	rec, _ := testImage(t, s)
	flipByte(t, s, rec.Config)
	_, err := s.LoadConfig(rec)
	wantCorrupt(t, err, rec.Config)
	if _, err := s.LoadConfig(rec); err == nil || !strings.Contains(err.Error(), "is not in the store") {
		t.Errorf("second read: %v; want the blob reported missing", err)
	}
}

// TestVerifiedReadExactSize: a reader that stops at the blob's size
// without asking for EOF (io.CopyN) still gets the verdict.
func TestVerifiedReadExactSize(t *testing.T) {
	s := openStore(t)
	h, err := s.PutBytes(bytes.Repeat([]byte("abcdefgh"), 10000))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := s.OpenBlobVerified(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, rc, 80000); err != nil {
		t.Fatalf("intact blob: %v", err)
	}
	rc.Close()
	flipByte(t, s, h)
	rc, err = s.OpenBlobVerified(h)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.CopyN(io.Discard, rc, 80000)
	wantCorrupt(t, err, h)
}

// TestIncompleteLayerDir: a layer dir without the marker written last
// (meta.json) is no layer: it is unpacked again from its blob, or
// reported when the blob is gone too.
func TestIncompleteLayerDir(t *testing.T) {
	s := openStore(t)
	_, cfg := testImage(t, s)
	d := cfg.RootFS.DiffIDs[0]
	dir := s.layerDir(d)
	os.Remove(filepath.Join(dir, "meta.json"))
	os.Remove(filepath.Join(s.LayerFS(d), "app", "b"))
	if s.HasLayer(d) {
		t.Fatal("a layer dir without meta.json counts as a layer")
	}
	if err := s.CheckLayers(cfg.RootFS.DiffIDs); err != nil {
		t.Fatal(err)
	}
	if !s.HasLayer(d) {
		t.Fatal("CheckLayers did not unpack the layer again")
	}
	if got := readFile(t, filepath.Join(s.LayerFS(d), "app", "b")); got != "bee" {
		t.Errorf("app/b = %q after unpacking again", got)
	}
	if m, err := s.Layer(d); err != nil || m.Size == 0 {
		t.Errorf("meta after unpacking again: %+v, %v", m, err)
	}

	// No dir and no blob: an error that says what to do.
	os.Remove(filepath.Join(dir, "meta.json"))
	os.Chmod(s.blobPath(d), 0o644)
	os.Remove(s.blobPath(d))
	err := s.CheckLayers(cfg.RootFS.DiffIDs)
	if err == nil || !strings.Contains(err.Error(), "layer "+d.String()+" is not in the store") || !strings.Contains(err.Error(), "pull it again") {
		t.Errorf("CheckLayers = %v", err)
	}
	// A corrupt blob under an incomplete dir is reported as corrupt.
	s2 := openStore(t)
	_, cfg2 := testImage(t, s2)
	d2 := cfg2.RootFS.DiffIDs[0]
	os.Remove(filepath.Join(s2.layerDir(d2), "meta.json"))
	flipByte(t, s2, d2)
	wantCorrupt(t, s2.CheckLayers(cfg2.RootFS.DiffIDs), d2)
	if des, _ := os.ReadDir(filepath.Join(s2.Root(), "layers")); len(des) != 1 || s2.layerComplete(d2) {
		t.Errorf("layers/ after a failed unpack: %v", des)
	}
}
