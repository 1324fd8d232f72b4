package layers

import (
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestIntermediateImages: a step's image is found by its id (full, with or
// without sha256:, abbreviated), is not listed among named images, and a
// prefix two images share (named or not) is refused.
func TestIntermediateImages(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := map[string]v1.Hash{}
	var a, b v1.Hash
	for i := 0; a.Hex == ""; i++ {
		cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}}
		cfg.Config.Labels = map[string]string{"n": strconv.Itoa(i)}
		id, err := s.SaveIntermediate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := seen[id.Hex[:4]]; ok {
			a, b = o, id
		}
		seen[id.Hex[:4]] = id
	}
	for _, ref := range []string{b.String(), b.Hex, b.Hex[:12]} {
		rec, ok, err := s.LookupImage(ref)
		if err != nil || !ok || rec.Config != b {
			t.Errorf("LookupImage(%s) = %v, %v, %v; want the image %s", ref, rec.Config, ok, err, b)
		}
	}
	if _, _, err := s.LookupImage(a.Hex[:4]); err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), a.Hex[:12]) || !strings.Contains(err.Error(), b.Hex[:12]) {
		t.Errorf("shared prefix %s: %v, want ambiguous naming both", a.Hex[:4], err)
	}
	imgs, err := s.Images()
	if err != nil || len(imgs) != 0 {
		t.Errorf("Images() = %d, %v; step images have no name and are not listed", len(imgs), err)
	}
	// A named image sharing the prefix makes it ambiguous too.
	rec, _, _ := s.LookupImage(a.String())
	if err := s.Tag("x", rec); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LookupImage(b.Hex[:4]); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("prefix %s of a named and a step image: %v, want ambiguous", b.Hex[:4], err)
	}
	if r, ok, err := s.LookupImage("x"); err != nil || !ok || r.Config != a {
		t.Errorf("LookupImage(x) = %v %v %v", r.Config, ok, err)
	}
}
