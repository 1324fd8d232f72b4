package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

// stepResult is a step's outcome in a build: its image id, whether it
// came from cache, its snapshot.
type stepResult struct {
	id     string
	cached bool
	key    string
	snap   *event.Snapshot
}

func stepResults(t *testing.T, r *buildRun) []stepResult {
	t.Helper()
	out := make([]stepResult, len(r.plan.Steps))
	for _, ev := range r.events {
		switch ev := ev.(type) {
		case event.StepCached:
			out[ev.Step] = stepResult{id: ev.ImageID, cached: true, key: ev.Key, snap: ev.Snapshot}
		case event.StepDone:
			out[ev.Step] = stepResult{id: ev.ImageID, key: ev.Key, snap: ev.Snapshot}
		}
	}
	// Each snapshot still carries its step's config (the TUI shows it),
	// whole once the build is over: its digest is the step's id.
	for i, s := range out {
		if s.snap == nil || s.snap.Config == nil {
			t.Fatalf("step %d: no snapshot config", i)
		}
		if got := configID(s.snap.Config); got != s.id {
			t.Errorf("step %d (%s): snapshot config is %s, the step's id %s", i, r.plan.Steps[i].Text, got, s.id)
		}
	}
	return out
}

// contextDir writes a build context: dockerfile and files.
func contextDir(t *testing.T, dockerfile string, files map[string]string) frontend.Options {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	return frontend.Options{ContextDir: dir}
}

func labelDockerfile(n int) string {
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	for i := range n {
		fmt.Fprintf(&b, "LABEL l%d=%s\n", i, strings.Repeat("x", 1000))
	}
	return b.String()
}

// TestMetadataStepsStoreLinear: a Dockerfile of N LABEL steps stores
// O(N) bytes (each step's config is not written whole to the blobs and
// the cache), a rebuild takes every step from cache with the same ids,
// and a step's image is still there by its id, whole.
func TestMetadataStepsStoreLinear(t *testing.T) {
	bytesFor := func(n int) int64 {
		store := newStore(t)
		opt := contextDir(t, labelDockerfile(n), nil)
		r1 := buildIn(t, store, opt, nil).mustOK(t)
		used := layers.DiskUsage(store.Root())
		s1 := stepResults(t, r1)
		r2 := buildIn(t, store, opt, nil).mustOK(t)
		s2 := stepResults(t, r2)
		for i := range s2 {
			if !s2[i].cached || s2[i].id != s1[i].id {
				t.Fatalf("N=%d rebuild, step %d: cached %v id %s, want cached with id %s", n, i, s2[i].cached, s2[i].id, s1[i].id)
			}
		}
		if r1.res.ImageID != r2.res.ImageID {
			t.Errorf("N=%d: image id changed on rebuild: %s → %s", n, r1.res.ImageID, r2.res.ImageID)
		}
		// A step in the middle, by its id (as strata run and inspect
		// name it): its config whole, with the labels up to it.
		mid := n / 2
		rec, ok, err := store.LookupImage(strings.TrimPrefix(s1[mid].id, "sha256:")[:12])
		if err != nil || !ok || rec.Config.String() != s1[mid].id {
			t.Fatalf("N=%d: step %d's image %s: %+v %v %v", n, mid, s1[mid].id, rec, ok, err)
		}
		cfg, err := store.LoadConfig(rec)
		if err != nil {
			t.Fatal(err)
		}
		if configID(cfg) != s1[mid].id || len(cfg.Config.Labels) != mid {
			t.Errorf("N=%d: step %d's image has %d labels (id %s), want %d (%s)", n, mid, len(cfg.Config.Labels), configID(cfg), mid, s1[mid].id)
		}
		return used
	}
	small, large := bytesFor(50), bytesFor(400)
	t.Logf("store after 50 LABEL steps: %d bytes; after 400: %d bytes (%.1f×)", small, large, float64(large)/float64(small))
	if large > 12*small {
		t.Errorf("400 LABEL steps stored %d bytes, 50 stored %d: %.1f× for 8× the steps, want at most 12× (linear)", large, small, float64(large)/float64(small))
	}
}

// TestMetadataDeltaMixed: metadata steps between layer steps, an ENV
// replaced, ports, CMD, ONBUILD: a rebuild hits every step with the same
// ids; a metadata step whose step before was rebuilt since (its cache
// entry lost) still hits with the image it recorded, rebuilt from the
// step images stored, as it did when entries held whole configs.
func TestMetadataDeltaMixed(t *testing.T) {
	store := newStore(t)
	df := `FROM scratch
LABEL a=1
ENV A=1 B=2
COPY a.txt /a.txt
ENV A=3
EXPOSE 80/tcp
LABEL b=2
CMD ["/a"]
ONBUILD RUN true
USER 1000
COPY b.txt /b.txt
LABEL c=3
STOPSIGNAL SIGTERM
`
	files := map[string]string{"a.txt": "a\n", "b.txt": "b\n"}
	opt := contextDir(t, df, files)
	r1 := buildIn(t, store, opt, nil).mustOK(t)
	s1 := stepResults(t, r1)
	r2 := buildIn(t, store, opt, nil).mustOK(t)
	s2 := stepResults(t, r2)
	for i := range s2 {
		if !s2[i].cached || s2[i].id != s1[i].id {
			t.Errorf("rebuild, step %d (%s): cached %v id %s, want cached with id %s", i, r2.plan.Steps[i].Text, s2[i].cached, s2[i].id, s1[i].id)
		}
	}
	// The entry of EXPOSE (step 5) is lost: it runs again (a new id, its
	// history dated now); LABEL b=2 after it hits with its recorded image.
	if err := os.Remove(cache.Local{Store: store}.KeyFile(s1[5].key)); err != nil {
		t.Fatal(err)
	}
	r3 := buildIn(t, store, opt, nil).mustOK(t)
	s3 := stepResults(t, r3)
	if s3[5].cached || s3[5].id == s1[5].id {
		t.Errorf("EXPOSE with its entry removed: cached %v id %s (was %s), want built anew", s3[5].cached, s3[5].id, s1[5].id)
	}
	for i := 6; i < len(s3); i++ {
		if !s3[i].cached || s3[i].id != s1[i].id {
			t.Errorf("after EXPOSE rebuilt, step %d (%s): cached %v id %s, want cached with id %s", i, r3.plan.Steps[i].Text, s3[i].cached, s3[i].id, s1[i].id)
		}
	}
	if r3.res.ImageID != r1.res.ImageID {
		t.Errorf("image %s, want %s as before", r3.res.ImageID, r1.res.ImageID)
	}
}
