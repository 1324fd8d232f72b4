package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

// outcome is how each step of a build ended: "cached" or "built: reason".
func (r *buildRun) outcomes() []string {
	out := make([]string, len(r.plan.Steps))
	for _, ev := range r.events {
		switch ev := ev.(type) {
		case event.StepCached:
			out[ev.Step] = "cached"
		case event.StepDone:
			out[ev.Step] = "built: " + ev.Reason
		case event.StepFailed:
			out[ev.Step] = "failed: " + ev.Error
		}
	}
	return out
}

func checkOutcomes(t *testing.T, r *buildRun, want ...string) {
	t.Helper()
	got := r.outcomes()
	if len(got) < len(want) {
		t.Fatalf("%d steps, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("step %d (%s): %q, want %q…", i+1, r.plan.Steps[i].Text, got[i], want[i])
		}
	}
}

const cacheDockerfile = `FROM scratch
ARG VERSION=1.0
ENV APP=/app
COPY src/ /app/
RUN echo build $VERSION
LABEL version=$VERSION
COPY static.txt /static.txt
CMD ["/app/main"]
`

func cacheContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Dockerfile":    cacheDockerfile,
		".dockerignore": "src/*.log\n",
		"src/app.py":    "print('hi')\n",
		"src/lib.py":    "x = 1\n",
		"src/debug.log": "noise\n",
		"static.txt":    "static\n",
	})
	return dir
}

// TestCacheSecondBuildReusesEverything: an identical rebuild takes every
// step from cache and makes the very same image.
func TestCacheSecondBuildReusesEverything(t *testing.T) {
	store := newStore(t)
	dir := cacheContext(t)
	fr := &fakeRunner{}
	r1 := buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	checkOutcomes(t, r1, "built: first build", "built: first build", "built: first build", "built: first build",
		"built: first build", "built: first build", "built: first build", "built: first build")
	r2 := buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	checkOutcomes(t, r2, "cached", "cached", "cached", "cached", "cached", "cached", "cached", "cached")
	if len(fr.reqs) != 1 {
		t.Errorf("RUN ran %d times over two builds, want 1", len(fr.reqs))
	}
	if r1.res.ImageID != r2.res.ImageID {
		t.Errorf("image id changed on a no-change rebuild: %s → %s", r1.res.ImageID, r2.res.ImageID)
	}
	bd := r2.events[len(r2.events)-1].(event.BuildDone)
	if bd.Cached != 8 || bd.Built != 0 {
		t.Errorf("BuildDone cached %d built %d, want 8 and 0", bd.Cached, bd.Built)
	}
	// A cached step's snapshot carries its layer and counts; the TUI
	// reads its change list from the store (snapChanges checks the counts
	// against that list).
	for _, ev := range r2.events {
		if c, ok := ev.(event.StepCached); ok && c.Step == 3 {
			if c.Snapshot == nil || c.Snapshot.Stats == nil || c.DiffID == "" || len(snapChanges(t, store, c.Snapshot)) == 0 {
				t.Errorf("cached COPY step has no snapshot changes: %+v", c)
			}
		}
	}
}

// TestCacheFileChange: changing one copied file rebuilds from that COPY
// on, naming the file; the steps before stay cached.
func TestCacheFileChange(t *testing.T) {
	store := newStore(t)
	dir := cacheContext(t)
	fr := &fakeRunner{}
	buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	if err := os.WriteFile(filepath.Join(dir, "src/app.py"), []byte("print('bye')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	checkOutcomes(t, r, "cached", "cached", "cached", "built: file src/app.py changed",
		"built: an earlier step was rebuilt", "built: an earlier step was rebuilt", "built: an earlier step was rebuilt", "built: an earlier step was rebuilt")

	// Adding and removing files names them, with a count past three.
	for i := range 5 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("src/new%d.py", i)), []byte("n"), 0o644)
	}
	os.Remove(filepath.Join(dir, "src/lib.py"))
	r = buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	if got := r.outcomes()[3]; got != "built: files src/new0.py, src/new1.py, src/new2.py added (and 3 more)" {
		t.Errorf("reason %q", got)
	}
}

// TestCacheIgnoredFileDoesNotInvalidate: a file .dockerignore excludes is
// not part of the checksum.
func TestCacheIgnoredFileDoesNotInvalidate(t *testing.T) {
	store := newStore(t)
	dir := cacheContext(t)
	fr := &fakeRunner{}
	buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	os.WriteFile(filepath.Join(dir, "src/debug.log"), []byte("more noise\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "unrelated.txt"), []byte("not copied\n"), 0o644)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	checkOutcomes(t, r, "cached", "cached", "cached", "cached", "cached", "cached", "cached", "cached")
}

// TestCacheBuildArg: a changed build arg is named, from the ARG on.
func TestCacheBuildArg(t *testing.T) {
	store := newStore(t)
	dir := cacheContext(t)
	fr := &fakeRunner{}
	buildIn(t, store, frontend.Options{ContextDir: dir, BuildArgs: map[string]string{"VERSION": "1.2"}}, fr).mustOK(t)
	r := buildIn(t, store, frontend.Options{ContextDir: dir, BuildArgs: map[string]string{"VERSION": "1.3"}}, fr).mustOK(t)
	checkOutcomes(t, r, "cached", "built: build arg VERSION changed: 1.2 → 1.3", "built: an earlier step was rebuilt",
		"built: an earlier step was rebuilt", "built: build arg VERSION changed: 1.2 → 1.3", "built: build arg VERSION changed: 1.2 → 1.3",
		"built: an earlier step was rebuilt")
	if len(fr.reqs) != 2 {
		t.Errorf("RUN ran %d times, want 2", len(fr.reqs))
	}
	// A proxy arg is not part of the key (BuildKit).
	r = buildIn(t, store, frontend.Options{ContextDir: dir, BuildArgs: map[string]string{"VERSION": "1.3", "HTTP_PROXY": "http://p:3128"}}, fr).mustOK(t)
	checkOutcomes(t, r, "cached", "cached", "cached", "cached", "cached", "cached", "cached", "cached")
}

// TestCacheInstructionChanged and --no-cache.
func TestCacheInstructionChangedAndNoCache(t *testing.T) {
	store := newStore(t)
	dir := cacheContext(t)
	fr := &fakeRunner{}
	buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	df := strings.Replace(cacheDockerfile, "RUN echo build $VERSION", "RUN echo make $VERSION", 1)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	checkOutcomes(t, r, "cached", "cached", "cached", "cached", "built: instruction changed (was: RUN echo build $VERSION)",
		"built: an earlier step was rebuilt")
	r = buildIn(t, store, frontend.Options{ContextDir: dir, NoCache: true}, fr).mustOK(t)
	for i, o := range r.outcomes() {
		if o != "built: --no-cache" {
			t.Errorf("step %d: %q, want built: --no-cache", i+1, o)
		}
	}
	// Putting the old line back finds the old entries again.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(cacheDockerfile), 0o644)
	r = buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	checkOutcomes(t, r, "cached", "cached", "cached", "cached", "cached", "cached", "cached", "cached")
}

// TestCacheCopyFromStage: COPY --from keys on the source stage, so a
// change in the stage rebuilds the copy and says so.
func TestCacheCopyFromStage(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	df := "FROM scratch AS src\nCOPY a /a\n\nFROM scratch\nCOPY b /b\nCOPY --from=src /a /a\n"
	writeTree(t, dir, map[string]string{"Dockerfile": df, "a": "1", "b": "2"})
	buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	os.WriteFile(filepath.Join(dir, "a"), []byte("changed"), 0o644)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	checkOutcomes(t, r, "cached", "built: file a changed", "cached", "cached", "built: --from=src: file a changed")
}

// TestCacheModeChange: a mode change is a content change of the source.
func TestCacheModeChange(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY run.sh /\n", "run.sh": "#!/bin/sh\n"})
	buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	os.Chmod(filepath.Join(dir, "run.sh"), 0o755)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	checkOutcomes(t, r, "cached", "built: file run.sh changed")
	if m := r.res.Config; m == nil {
		t.Fatal("no config")
	}
}

// TestCacheConcurrentBuilds: two builds on one store at once both finish
// and what they stored verifies.
func TestCacheConcurrentBuilds(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	dirs := []string{cacheContext(t), cacheContext(t)}
	var wg sync.WaitGroup
	runs := make([]*buildRun, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := layers.Open(root)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			runs[i] = buildIn(t, s, frontend.Options{ContextDir: dirs[i]}, &fakeRunner{})
		}()
	}
	wg.Wait()
	for i, r := range runs {
		if r == nil || r.err != nil {
			t.Fatalf("build %d: %v", i, r.err)
		}
	}
	if runs[0].res.Config.RootFS.DiffIDs[0] != runs[1].res.Config.RootFS.DiffIDs[0] {
		t.Errorf("same COPY made different layers")
	}
	s, err := layers.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	verifyStore(t, s)
	// Both records and entries are readable: a third build is all cache.
	r := buildIn(t, s, frontend.Options{ContextDir: dirs[0]}, &fakeRunner{}).mustOK(t)
	checkOutcomes(t, r, "cached", "cached", "cached", "cached", "cached", "cached", "cached", "cached")
}

// verifyStore rereads every blob and checks its digest, and every cache
// entry's layers exist.
func verifyStore(t *testing.T, s *layers.Store) {
	t.Helper()
	metas, err := s.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		if _, err := s.ReadBlob(m.DiffID); err != nil {
			t.Errorf("layer %s: %v", m.DiffID, err)
		}
	}
	ents, err := cache.Entries(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) == 0 {
		t.Fatal("no cache entries")
	}
	for _, e := range ents {
		if e.Entry == nil {
			t.Errorf("unreadable cache entry %s", e.Path)
			continue
		}
		for _, d := range e.Entry.LayerIDs() {
			if !s.HasLayer(d) {
				t.Errorf("cache entry %s names missing layer %s", e.Entry.Key, d)
			}
		}
	}
}

// TestCacheReasonAfterStoppedBuild: a build cancelled before it reached a
// step does not make that step "new" in the next build.
func TestCacheReasonAfterStoppedBuild(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": controlDockerfile, "a": "x"})
	c := NewControl(false, []int{4})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !c.Paused() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	p, err := frontend.NewPlan(frontend.Options{ContextDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := &Executor{Store: store, Plan: p, Opt: frontend.Options{ContextDir: dir}, Runner: &fakeRunner{}, Control: c}
	ch := make(chan event.Event, 16)
	go func() {
		for range ch {
		}
	}()
	if _, err := e.Build(ctx, ch); err == nil {
		t.Fatal("the cancelled build succeeded")
	}
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, &fakeRunner{}).mustOK(t)
	checkOutcomes(t, r, "cached", "cached", "cached", "built: not built before: the last build stopped before this step")
}

// exitRunner fails RUN commands that contain "fail" (exit 4).
type exitRunner struct{}

func (exitRunner) Run(ctx context.Context, r *RunRequest) (int, error) {
	if strings.Contains(strings.Join(r.Args, " "), "fail") {
		return 4, nil
	}
	return 0, nil
}

// TestReasonAfterFailedBuildQA: after a build fails at a step, fixing
// that step is "instruction changed (was: the failed one)", retrying it
// unchanged says it failed last time, and the steps after it compare
// with the last build that ran them — not "new step (the last build had
// N steps)" nor "not in cache any more".
func TestReasonAfterFailedBuildQA(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	reasons := func(src string) []string {
		t.Helper()
		if err := os.WriteFile(df, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		r := buildIn(t, store, frontend.Options{ContextDir: dir}, exitRunner{})
		var out []string
		for _, ev := range r.events {
			if l, ok := ev.(event.StepLog); ok && l.Stream == "info" && strings.HasPrefix(l.Line, "cache miss: ") {
				out = append(out, strings.TrimPrefix(l.Line, "cache miss: "))
			}
		}
		return out
	}
	reasons("FROM scratch\nENV A=1\nRUN echo ok\nENV B=1\n")
	// the RUN fails: the stage stops there
	reasons("FROM scratch\nENV A=1\nRUN echo fail\nENV B=1\n")
	// the same failing RUN again
	got := reasons("FROM scratch\nENV A=1\nRUN echo fail\nENV B=1\n")
	if len(got) != 1 || !strings.Contains(got[0], "fail") || strings.Contains(got[0], "not in cache") {
		t.Errorf("retrying the failed step: reasons %q; want one saying it failed last time", got)
	}
	// fixed, with a changed step after it
	got = reasons("FROM scratch\nENV A=1\nRUN echo fixed\nENV B=2\n")
	want := []string{"instruction changed (was: RUN echo fail)", "instruction changed (was: ENV B=1)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("after fixing the failed step: reasons %q, want %q", got, want)
	}
}
