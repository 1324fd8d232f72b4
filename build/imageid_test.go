package build

import (
	"strings"
	"testing"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// lastStepImageID is the image id the last step's event tells (built or
// cached).
func (r *buildRun) lastStepImageID(t testing.TB) string {
	t.Helper()
	last := r.lastStep()
	id := ""
	for _, ev := range r.events {
		switch ev := ev.(type) {
		case event.StepDone:
			if ev.Step == last {
				id = ev.ImageID
			}
		case event.StepCached:
			if ev.Step == last {
				id = ev.ImageID
			}
		}
	}
	if id == "" {
		t.Fatalf("no StepDone or StepCached for the last step %d", last)
	}
	return id
}

// TestLastStepIsTheImage: as with docker's builder, the id the last step
// prints is the id of the image the build saves, built and from cache;
// the last step's snapshot config is the saved config.
func TestLastStepIsTheImage(t *testing.T) {
	store := newStore(t)
	for _, df := range []string{
		"FROM scratch\nCOPY a /a\nENV X=1\nCMD [\"/a\"]\n",
		"FROM scratch\nCOPY a /a\nLABEL x=y\nCOPY a /b\n",
		"FROM scratch\nCOPY a /a\nARG Z=1\n",
	} {
		for i, what := range []string{"built", "from cache"} {
			r := build(t, store, df, map[string]string{"a": "A"}, frontend.Options{}).mustOK(t)
			if got, want := r.lastStepImageID(t), r.res.ImageID.String(); got != want {
				t.Errorf("%q, %s (build %d): the last step says image %s, the build saved %s", df, what, i+1, got, want)
			}
		}
	}
}

// TestFromOnlyIsTheBase: a Dockerfile that is only FROM builds its base
// image, with the id the FROM step printed.
func TestFromOnlyIsTheBase(t *testing.T) {
	store := newStore(t)
	base := build(t, store, "FROM scratch\nCOPY a /a\n", map[string]string{"a": "A"}, frontend.Options{Tags: []string{"base:1"}}).mustOK(t)
	r := build(t, store, "FROM base:1\n", nil, frontend.Options{}).mustOK(t)
	if got, want := r.lastStepImageID(t), r.res.ImageID.String(); got != want {
		t.Errorf("the FROM step says image %s, the build saved %s", got, want)
	}
	if got, want := r.res.ImageID, base.res.ImageID; got != want {
		t.Errorf("FROM base:1 alone built %s, want the base image %s", got, want)
	}
}

// TestStepImagesAreImages: every id a step prints names an image of the
// local store (full or 12 digits), usable by FROM; the saved config is
// the step's; a prefix two images share is refused; a prune that drops
// the cache drops the step images whose layers went with it.
func TestStepImagesAreImages(t *testing.T) {
	store := newStore(t)
	r := build(t, store, "FROM scratch\nCOPY a /a\nENV X=1\nCOPY b /b\nCMD [\"/a\"]\n", map[string]string{"a": "A", "b": "B"}, frontend.Options{}).mustOK(t)
	ids := map[int]string{}
	for _, ev := range r.events {
		if d, ok := ev.(event.StepDone); ok {
			ids[d.Step] = d.ImageID
		}
	}
	if len(ids) != len(r.plan.Steps) {
		t.Fatalf("%d step ids for %d steps", len(ids), len(r.plan.Steps))
	}
	for step, id := range ids {
		for _, ref := range []string{id, strings.TrimPrefix(id, "sha256:")[:12]} {
			rec, ok, err := store.LookupImage(ref)
			if err != nil || !ok {
				t.Fatalf("step %d's image %s: found %v, %v", step, ref, ok, err)
			}
			if rec.Config.String() != id {
				t.Errorf("step %d's image %s is %s", step, ref, rec.Config)
			}
			if _, err := store.LoadConfig(rec); err != nil {
				t.Errorf("step %d's image %s: %v", step, ref, err)
			}
		}
	}
	// FROM the image of step 2 (COPY a, ENV X): a new build starts there.
	mid := strings.TrimPrefix(ids[2], "sha256:")[:12]
	r2 := build(t, store, "FROM "+mid+"\nLABEL y=z\n", nil, frontend.Options{}).mustOK(t)
	if got := r2.env()["X"]; got != "1" {
		t.Errorf("FROM %s: X=%q, want the step's ENV X=1", mid, got)
	}
	if got, want := len(r2.cfg().RootFS.DiffIDs), 1; got != want {
		t.Errorf("FROM %s: %d layers, want %d", mid, got, want)
	}
	// A prefix two step images share is refused, naming both.
	a, b := strings.TrimPrefix(ids[1], "sha256:"), strings.TrimPrefix(ids[3], "sha256:")
	n := 0
	for n < len(a) && a[n] == b[n] {
		n++
	}
	if n >= 4 {
		if _, _, err := store.LookupImage(a[:n]); err == nil || !strings.Contains(err.Error(), "ambiguous") {
			t.Errorf("shared prefix %s: %v, want ambiguous", a[:n], err)
		}
	}
	// Prune --all drops the cache, the layers only it kept, and the step
	// images made of them.
	if _, err := store.Untag(r2.res.Tags...); err != nil && len(r2.res.Tags) > 0 {
		t.Fatal(err)
	}
	if _, err := cache.Prune(store, cache.PruneOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := store.LookupImage(ids[3]); ok || err != nil {
		t.Errorf("after prune --all, step 3's image %s: found %v, %v; want gone", ids[3], ok, err)
	}
}
