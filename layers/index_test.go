package layers

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// An index under a name: LookupIndex finds it while the name points at
// one of its images; GC keeps its images and blob until then.
func TestIndexRecord(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	blob, err := s.PutBytes([]byte(`{"schemaVersion":2}`))
	if err != nil {
		t.Fatal(err)
	}
	h := func(c byte) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: string(make64(c))} }
	amd := ImageRecord{Manifest: h('a'), Config: h('b'), Created: time.Now()}
	arm := ImageRecord{Manifest: h('c'), Config: h('d'), Created: time.Now()}
	rec := IndexRecord{Index: blob, Images: []PlatformImage{{Platform: "linux/amd64", ImageRecord: amd}, {Platform: "linux/arm64/v8", ImageRecord: arm}}}
	if err := s.TagIndex("app:1", rec, amd); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LookupIndex("app:1")
	if err != nil || !ok || got.Index != blob || len(got.Images) != 2 {
		t.Fatalf("LookupIndex = %+v, %v, %v", got, ok, err)
	}
	if cur, ok, _ := s.LookupImage("app:1"); !ok || cur.Manifest != amd.Manifest {
		t.Errorf("the name points at %+v, want the amd64 image", cur)
	}
	if imgs, _ := s.indexImages(); len(imgs) != 2 {
		t.Errorf("GC roots of a live index: %d images, want 2", len(imgs))
	}
	if b := s.indexBlobs(); len(b) != 1 || b[0] != blob {
		t.Errorf("indexBlobs = %v", b)
	}
	// The name now points at another image: the index is gone for
	// LookupIndex and GC.
	if err := s.Tag("app:1", ImageRecord{Manifest: h('e'), Config: h('f')}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LookupIndex("app:1"); ok {
		t.Error("LookupIndex still finds the index after the name moved")
	}
	if imgs, _ := s.indexImages(); len(imgs) != 0 {
		t.Errorf("a stale index keeps %d images from GC", len(imgs))
	}
	if _, ok, _ := s.LookupIndex("not a name"); ok {
		t.Error("LookupIndex of a bad name")
	}
}

func make64(c byte) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return b
}
