package build

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// TestCacheCopyFromKeyedOnContent: COPY --from is keyed on the content of
// what it copies, as BuildKit's file op is (its cache map's
// ComputeDigestFunc is a content hash of the selected paths): a rebuilt
// builder stage whose copied files are byte-identical leaves COPY --from
// and every later step cached, with the same image id, and the hit says
// why it is one. A change of a copied file rebuilds it, naming the file.
func TestCacheCopyFromKeyedOnContent(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	df := "FROM scratch AS build\nCOPY a /out/a\nCOPY note /note\n\nFROM scratch\nCOPY b /b\nCOPY --from=build /out /app\nLABEL x=y\n"
	writeTree(t, dir, map[string]string{"Dockerfile": df, "a": "1", "b": "2", "note": "n1"})
	r1 := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)

	os.WriteFile(filepath.Join(dir, "note"), []byte("n2"), 0o644)
	r2 := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	checkOutcomes(t, r2, "cached", "cached", "built: file note changed", "cached", "cached", "cached", "cached")
	if r1.res.ImageID != r2.res.ImageID {
		t.Errorf("image id changed though the files copied are the same: %s → %s", r1.res.ImageID, r2.res.ImageID)
	}
	var reason string
	for _, ev := range r2.events {
		if c, ok := ev.(event.StepCached); ok && c.Step == 5 {
			reason = c.Reason
		}
	}
	if want := "stage build was rebuilt; the files copied from it are unchanged"; reason != want {
		t.Errorf("COPY --from hit's reason %q, want %q", reason, want)
	}

	os.WriteFile(filepath.Join(dir, "a"), []byte("changed"), 0o644)
	r3 := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	checkOutcomes(t, r3, "cached", "built: file a changed", "built: an earlier step was rebuilt", "cached", "cached",
		"built: --from=build: file out/a changed", "built: an earlier step was rebuilt")

	// A mode change of a copied file is a change too.
	os.Chmod(filepath.Join(dir, "a"), 0o755)
	r4 := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	checkOutcomes(t, r4, "cached", "built: file a changed", "built: an earlier step was rebuilt", "cached", "cached",
		"built: --from=build: file out/a changed")
}
