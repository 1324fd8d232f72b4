package layers

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// NormalizeName accepts what docker accepts for -t and rejects the rest
// with a message naming the name and the right form.
func TestNormalizeNameQA(t *testing.T) {
	good := map[string]string{
		"x":                          "x:latest",
		"bb:1":                       "bb:1",
		"127.0.0.1:5000/app":         "127.0.0.1:5000/app:latest",
		"127.0.0.1:5000/app:v1.2-rc": "127.0.0.1:5000/app:v1.2-rc",
		"ghcr.io/o/r:tag":            "ghcr.io/o/r:tag",
		"localhost/a_b.c-d":          "localhost/a_b.c-d:latest",
		"localhost:5000/x/y:1":       "localhost:5000/x/y:1",
		"[::1]:5000/x":               "[::1]:5000/x:latest",
	}
	for in, want := range good {
		got, err := NormalizeName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"BAD:TAG::", "Upper", "a:b:c", "x:", "/x", "x//y", "x:t@g", "a b", "Sdocker-archive:/tmp/qa", "host:/x", "host:12a/x", "-x", "x:" + strings.Repeat("t", 129)} {
		_, err := NormalizeName(in)
		if err == nil {
			t.Errorf("NormalizeName(%q) accepted an invalid name", in)
			continue
		}
		if !strings.Contains(err.Error(), in) {
			t.Errorf("NormalizeName(%q): error %q does not name the input", in, err)
		}
	}
}

// WriteFileAtomic onto a directory fails saying so, before writing
// anything, and leaves no temp file beside it.
func TestWriteFileAtomicDirQA(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	called := false
	err := WriteFileAtomic(dir, func(w io.Writer) error { called = true; _, err := w.Write([]byte("x")); return err })
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("WriteFileAtomic onto a directory: %v, want an error saying it is a directory", err)
	}
	if called {
		t.Errorf("the content was produced before the destination was checked")
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left behind in %s: %v", parent, names)
	}
}

func hashOf(t *testing.T, hex string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash("sha256:" + hex + strings.Repeat("0", 64-len(hex)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// An id prefix that two different images share is ambiguous: lookup and
// rm refuse it (as docker does) instead of picking one at random or
// removing both.
func TestAmbiguousIDPrefix(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := hashOf(t, "abcd1111"), hashOf(t, "abcd2222")
	for name, h := range map[string]v1.Hash{"one:1": a, "one:2": a, "two:1": b} {
		if err := s.Tag(name, ImageRecord{Config: h, Manifest: h}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := s.LookupImage("abcd"); err == nil || ok {
		t.Errorf("LookupImage(abcd) with two images abcd1…, abcd2…: ok=%v err=%v, want an ambiguity error", ok, err)
	} else if !strings.Contains(err.Error(), "abcd") {
		t.Errorf("ambiguity error %q does not name the prefix", err)
	}
	if rec, ok, err := s.LookupImage("abcd1"); err != nil || !ok || rec.Config != a {
		t.Errorf("LookupImage(abcd1) = %v %v %v, want image a", rec.Config, ok, err)
	}
	if removed, err := s.Untag("abcd"); err == nil {
		t.Errorf("Untag(abcd) removed %v, want an ambiguity error", removed)
	}
	if imgs, _ := s.Images(); len(imgs) != 3 {
		t.Errorf("after a refused rm %d images are left, want 3", len(imgs))
	}
	// Both names of one image by its id; a name given twice is said once.
	removed, err := s.Untag("abcd1", "one:1")
	if err != nil || strings.Join(removed, " ") != "one:1 one:2" {
		t.Errorf("Untag(abcd1, one:1) = %v, %v; want [one:1 one:2]", removed, err)
	}
}

// TestUntagSafe: an id whose image has several names is refused without
// force (docker rmi), and removes them all with it.
func TestUntagSafe(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := ImageRecord{Manifest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}, Config: v1.Hash{Algorithm: "sha256", Hex: "feed" + strings.Repeat("0", 60)}}
	for _, n := range []string{"a:1", "b:1"} {
		if err := s.Tag(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UntagSafe("feed"); err == nil || !strings.Contains(err.Error(), "has 2 names") || !strings.Contains(err.Error(), "-f") {
		t.Fatalf("UntagSafe of a two-name id: %v", err)
	}
	if removed, err := s.UntagSafe("a:1"); err != nil || len(removed) != 1 {
		t.Fatalf("UntagSafe by name: %v %v", removed, err)
	}
	if removed, err := s.UntagSafe("feed"); err != nil || len(removed) != 1 || removed[0] != "docker.io/library/b:1" && removed[0] != "b:1" {
		t.Fatalf("UntagSafe of a one-name id: %v %v", removed, err)
	}
}
