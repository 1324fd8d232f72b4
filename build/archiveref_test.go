package build

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
)

// TestDockerArchiveByName: an image saved as docker-archive:FILE:NAME:TAG
// reads back by that same reference, in inspect and in run's lookup
// (LoadImage); a NAME:TAG the tarball lacks is refused.
func TestDockerArchiveByName(t *testing.T) {
	store := newStore(t)
	r := build(t, store, "FROM scratch\nCOPY a /a\n", map[string]string{"a": "A"}, frontend.Options{}).mustOK(t)
	file := filepath.Join(t.TempDir(), "img.tar")
	ref := "docker-archive:" + file + ":app:1"
	if what, err := snapshot.SaveImage(store, r.res.ImageID.String(), ref); err != nil || !strings.Contains(what, "(app:1)") {
		t.Fatalf("save to %s: %q %v", ref, what, err)
	}
	for _, ref := range []string{ref, "docker-archive:" + file + ":docker.io/library/app:1"} {
		fresh := newStore(t)
		in, err := snapshot.Inspect(context.Background(), fresh, ref)
		if err != nil {
			t.Fatalf("inspect %s: %v", ref, err)
		}
		if in.ImageID != r.res.ImageID {
			t.Errorf("inspect %s: image %s, want %s", ref, in.ImageID, r.res.ImageID)
		}
		cfg, err := snapshot.LoadImage(context.Background(), newStore(t), ref)
		if err != nil {
			t.Fatalf("LoadImage(%s): %v", ref, err)
		}
		if len(cfg.RootFS.DiffIDs) != 1 {
			t.Errorf("LoadImage(%s): %d layers, want 1", ref, len(cfg.RootFS.DiffIDs))
		}
	}
	if _, err := snapshot.Inspect(context.Background(), newStore(t), "docker-archive:"+file+":other:9"); err == nil {
		t.Error("inspect by a NAME:TAG the tarball lacks did not fail")
	}
}
