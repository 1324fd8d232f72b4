package build

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

// TestPrune: the default keeps what the cache and images use; --all keeps
// only images; --keep-storage drops the oldest cache first; a second
// process on the store makes prune refuse.
func TestPrune(t *testing.T) {
	store := newStore(t)
	kept := t.TempDir()
	writeTree(t, kept, map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "kept image"})
	gone := t.TempDir()
	writeTree(t, gone, map[string]string{"Dockerfile": "FROM scratch\nCOPY b /b\nCOPY c /c\n", "b": "untagged", "c": "more"})
	rk := buildIn(t, store, frontend.Options{ContextDir: kept, Tags: []string{"kept:1"}}, nil).mustOK(t)
	rg := buildIn(t, store, frontend.Options{ContextDir: gone}, nil).mustOK(t)

	res, err := cache.Prune(store, cache.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheEntries != 0 || res.Layers != 0 {
		t.Errorf("default prune removed %+v; the cache still uses everything", res)
	}
	// The untagged image is its last step's image: reachable by its id
	// while the cache keeps its layers, as docker's dangling images.
	if res.Blobs != 0 {
		t.Errorf("default prune removed %d blobs, want none (the untagged image is still reachable by id)", res.Blobs)
	}
	if _, ok, err := store.LookupImage(rg.res.ImageID.String()); !ok || err != nil {
		t.Errorf("untagged image %s after prune: %v, %v; want reachable by id", rg.res.ImageID, ok, err)
	}

	// Over the limit: the least recently used entries go first.
	res, err = cache.Prune(store, cache.PruneOptions{KeepStorage: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheEntries == 0 || res.Layers != 2 {
		t.Errorf("--keep-storage 1 removed %+v, want cache entries and the 2 untagged layers", res)
	}
	for _, d := range rg.res.Config.RootFS.DiffIDs {
		if store.HasLayer(d) {
			t.Errorf("layer %s of the untagged image survived", d)
		}
	}
	if _, ok, err := store.LookupImage(rg.res.ImageID.String()); ok || err != nil {
		t.Errorf("untagged image %s after its layers went: %v, %v; want gone", rg.res.ImageID, ok, err)
	}
	if store.HasBlob(rg.res.ImageID) {
		t.Errorf("the untagged image's config blob %s survived its layers", rg.res.ImageID)
	}
	d := rk.res.Config.RootFS.DiffIDs[0]
	if !store.HasLayer(d) {
		t.Fatalf("the tagged image's layer was removed")
	}
	if _, err := store.ReadBlob(d); err != nil {
		t.Errorf("the tagged image's layer blob: %v", err)
	}
	// The rebuild of the untagged one reports why it misses.
	r := buildIn(t, store, frontend.Options{ContextDir: gone}, nil).mustOK(t)
	checkOutcomes(t, r, "cached", "built: not in cache any more")

	res, err = cache.Prune(store, cache.PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.CacheEntries == 0 || res.Layers != 2 || res.Bytes <= 0 {
		t.Errorf("--all removed %+v", res)
	}
	if _, err := os.Stat(filepath.Join(cache.Root(store), "keys")); !os.IsNotExist(err) {
		t.Errorf("cache keys remain after --all: %v", err)
	}
	// The tagged image still exports whole.
	rec, ok, err := store.LookupImage("kept:1")
	if err != nil || !ok {
		t.Fatalf("kept:1 lost: %v", err)
	}
	img, err := store.Image(rec.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := layers.WriteOCILayout(filepath.Join(t.TempDir(), "oci"), img, nil); err != nil {
		t.Errorf("export after prune: %v", err)
	}
	r = buildIn(t, store, frontend.Options{ContextDir: kept}, nil).mustOK(t)
	checkOutcomes(t, r, "built: first build", "built: first build")

	// Another process on the store: prune refuses at once.
	other, err := layers.Open(store.Root())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := cache.Prune(store, cache.PruneOptions{}); !errors.Is(err, layers.ErrStoreBusy) {
		t.Errorf("prune with another process open: %v, want ErrStoreBusy", err)
	}
}
