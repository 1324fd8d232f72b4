package build

import (
	"testing"

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
