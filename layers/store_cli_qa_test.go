package layers

import (
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func qaHash(t *testing.T, hex string) v1.Hash {
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
	a, b := qaHash(t, "abcd1111"), qaHash(t, "abcd2222")
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
