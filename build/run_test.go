package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"os/exec"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/runmount"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
)

func writeContext(t testing.TB, dockerfile string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRunMountBindFrom: RUN --mount=type=bind,from= gives the sandbox an
// overlay of the stage's layers with the source resolved inside the stage;
// rw makes it writable; sources leaving the stage are refused.
func TestRunMountBindFrom(t *testing.T) {
	store := newStore(t)
	files := map[string]string{
		"out/file":  "built\n",
		"links/abs": "->/out",
		"links/esc": "->../../../..",
		"links/in":  "->../out/file",
	}
	df := `FROM scratch AS builder
COPY out /out
COPY links /links
FROM scratch
RUN --mount=type=bind,from=builder,source=/out,target=/in true
RUN --mount=type=bind,from=0,source=/links/abs,target=in2,rw true
RUN --mount=type=bind,from=builder,source=links/in,target=/f true
RUN --mount=type=bind,from=builder,target=/all true
`
	fr := &fakeRunner{}
	buildIn(t, store, frontend.Options{ContextDir: writeContext(t, df, files)}, fr).mustOK(t)
	if len(fr.reqs) != 4 {
		t.Fatalf("%d RUN requests, want 4", len(fr.reqs))
	}
	want := []struct {
		source, target string
		ro             bool
	}{{"/out", "/in", true}, {"/out", "/in2", false}, {"/out/file", "/f", true}, {"/", "/all", true}}
	for i, w := range want {
		ms := fr.reqs[i].Mounts
		if len(ms) != 1 {
			t.Fatalf("RUN %d: mounts %+v", i, ms)
		}
		m := ms[0]
		if m.Type != "overlay" || m.Source != w.source || m.Target != w.target || m.ReadOnly != w.ro {
			t.Errorf("RUN %d: mount %+v, want overlay of %s on %s ro=%v", i, m, w.source, w.target, w.ro)
		}
		if len(m.Lower) != 2 {
			t.Errorf("RUN %d: %d lower dirs, want the builder's 2 layers", i, len(m.Lower))
		}
		v := &layers.View{Lowers: m.Lower}
		if b, err := v.ReadFile("/out/file", 0); err != nil || string(b) != "built\n" {
			t.Errorf("RUN %d: /out/file in the lower dirs: %q %v", i, b, err)
		}
	}

	for _, tc := range []struct{ mount, want string }{
		{"from=builder,source=/links/esc/etc,target=/x", "symlink /links/esc -> ../../../.. leads outside the root in stage builder"},
		{"from=builder,source=../etc,target=/x", "source ../etc: leads outside the root"},
		{"from=builder,source=/out/../../x,target=/x", "leads outside the root"},
		{"from=builder,source=/nope,target=/x", "/nope not found in stage builder"},
		{"from=builder,source=/out/file/x,target=/x", "/out/file is not a directory"},
		{"from=builder,source=/out", "needs target=PATH"},
		{"from=1,target=/x", "cannot"},
	} {
		df := "FROM scratch AS builder\nCOPY out /out\nCOPY links /links\nFROM scratch\nRUN --mount=type=bind," + tc.mount + " true\n"
		store := newStore(t)
		r := buildIn(t, store, frontend.Options{ContextDir: writeContext(t, df, files)}, &fakeRunner{})
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) || frontend.ErrorLine(r.err) != 5 {
			t.Errorf("--mount=type=bind,%s: err %v (line %d), want Dockerfile:5 and %q", tc.mount, r.err, frontend.ErrorLine(r.err), tc.want)
		}
	}
}

// TestRunMountContextRW: a rw bind of the context is an overlay over it, so
// the command's writes never reach the context; ro stays a plain bind.
func TestRunMountContextRW(t *testing.T) {
	store := newStore(t)
	df := `FROM scratch
RUN --mount=type=bind,source=sub,target=/s,rw true
RUN --mount=type=bind,source=sub/f,target=/f,rw true
RUN --mount=type=bind,source=sub,target=/r true
`
	ctxDir := writeContext(t, df, map[string]string{"sub/f": "x"})
	fr := &fakeRunner{}
	buildIn(t, store, frontend.Options{ContextDir: ctxDir}, fr).mustOK(t)
	real, _ := filepath.EvalSymlinks(ctxDir)
	want := []sandbox.Mount{
		{Type: "overlay", Lower: []string{filepath.Join(real, "sub")}, Source: "/", Target: "/s"},
		{Type: "overlay", Lower: []string{filepath.Join(real, "sub")}, Source: "/f", Target: "/f"},
		{Type: "bind", Source: filepath.Join(real, "sub"), Target: "/r", ReadOnly: true},
	}
	for i, w := range want {
		if got := fr.reqs[i].Mounts; len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(w) {
			t.Errorf("RUN %d: %+v, want %+v", i, got, w)
		}
	}
}

// TestCacheMountCreate: a new cache dir gets uid=, gid= and mode= (sticky
// bit included); from= seeds it with the stage's directory.
func TestCacheMountCreate(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	// COPY out / (into the existing root): every entry keeps its context
	// mtime, so the rebuilt source stage makes the same layer and the seeded
	// cache (named after the source's layers) is the same one. A directory
	// that COPY itself creates as the destination gets the time of the
	// build (see the issue note), which made this test flaky.
	df := `FROM scratch AS builder
COPY out /
FROM scratch
RUN --mount=type=cache,id=perm,target=/c,uid=1000,gid=1001,mode=1777 true
RUN --mount=type=cache,target=/seed,from=builder,source=/ true
`
	fr := &fakeRunner{}
	ctxDir := writeContext(t, df, map[string]string{"out/file": "seed\n", "out/sub/g": "g"})
	buildIn(t, store, frontend.Options{ContextDir: ctxDir, NoCache: true}, fr).mustOK(t)
	var st unix.Stat_t
	if err := unix.Stat(fr.reqs[0].Mounts[0].Source, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o1777 {
		t.Errorf("cache dir %d:%d mode %o, want 1000:1001 1777", st.Uid, st.Gid, st.Mode&0o7777)
	}
	seeded := fr.reqs[1].Mounts[0].Source
	if b, err := os.ReadFile(filepath.Join(seeded, "file")); err != nil || string(b) != "seed\n" {
		t.Errorf("seeded cache: file = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(seeded, "sub/g")); err != nil || string(b) != "g" {
		t.Errorf("seeded cache: sub/g = %q, %v", b, err)
	}
	// Written to, then used again: the seed does not come back.
	os.WriteFile(filepath.Join(seeded, "file"), []byte("mine\n"), 0o644)
	fr2 := &fakeRunner{}
	buildIn(t, store, frontend.Options{ContextDir: ctxDir, NoCache: true}, fr2).mustOK(t)
	if got := fr2.reqs[1].Mounts[0].Source; got != seeded {
		t.Errorf("second build uses %s, want the same cache %s", got, seeded)
	}
	if b, _ := os.ReadFile(filepath.Join(seeded, "file")); string(b) != "mine\n" {
		t.Errorf("cache reseeded: %q", b)
	}
}

// holdRunner holds every RUN's cache mounts for a while, writing
// "start NAME NS" and "end NAME NS" lines into log in each cache dir.
type holdRunner struct {
	name    string
	hold    time.Duration
	started chan<- string   // optional: gets the cache dir once started
	release <-chan struct{} // optional: waited for (or ctx) before ending
	code    int

	mu   sync.Mutex
	dirs []string
}

func (h *holdRunner) Run(ctx context.Context, r *RunRequest) (int, error) {
	var dirs []string
	for _, m := range r.Mounts {
		if m.Type == "bind" && strings.Contains(m.Source, filepath.Join("cache", "mounts")) {
			dirs = append(dirs, m.Source)
		}
	}
	h.mu.Lock()
	h.dirs = append(h.dirs, dirs...)
	h.mu.Unlock()
	logLine := func(what string) {
		for _, d := range dirs {
			f, err := os.OpenFile(filepath.Join(d, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err == nil {
				fmt.Fprintf(f, "%s %s %d\n", what, h.name, time.Now().UnixNano())
				f.Close()
			}
		}
	}
	logLine("start")
	if h.started != nil {
		for _, d := range dirs {
			h.started <- d
		}
	}
	if h.release != nil {
		select {
		case <-h.release:
		case <-ctx.Done():
			return 137, ctx.Err()
		}
	}
	select {
	case <-time.After(h.hold):
	case <-ctx.Done():
		return 137, ctx.Err()
	}
	logLine("end")
	return h.code, nil
}

type logEntry struct {
	what, name string
	at         int64
}

func readCacheLog(t *testing.T, dir string) []logEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []logEntry
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("log line %q", l)
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		out = append(out, logEntry{f[0], f[1], n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out
}

func sharingDockerfile(sharing string) string {
	return "FROM scratch\nRUN --mount=type=cache,id=shared-cache,target=/c,sharing=" + sharing + " work\n"
}

func hasLog(r *buildRun, text string) bool {
	for _, ev := range r.events {
		if l, ok := ev.(event.StepLog); ok && strings.Contains(l.Line, text) {
			return true
		}
	}
	return false
}

// TestCacheMountLocked: two builds using one sharing=locked cache run their
// RUNs one after the other: the second waits until the first releases it.
func TestCacheMountLocked(t *testing.T) {
	store := newStore(t)
	ctxDir := writeContext(t, sharingDockerfile("locked"), nil)
	started := make(chan string, 2)
	runs := make([]*buildRun, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"A", "B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = buildCtx(context.Background(), t, store, frontend.Options{ContextDir: ctxDir, NoCache: true}, &holdRunner{name: name, hold: 300 * time.Millisecond, started: started})
		}()
	}
	wg.Wait()
	for _, r := range runs {
		r.mustOK(t)
	}
	dir := <-started
	if other := <-started; other != dir {
		t.Fatalf("locked cache: two dirs %s and %s", dir, other)
	}
	log := readCacheLog(t, dir)
	if len(log) != 4 || log[0].what != "start" || log[1].what != "end" || log[1].name != log[0].name ||
		log[2].what != "start" || log[3].what != "end" || log[2].name == log[0].name {
		t.Fatalf("locked cache used concurrently: %+v", log)
	}
	if !hasLog(runs[0], "waiting for cache mount shared-cache (sharing=locked)") && !hasLog(runs[1], "waiting for cache mount shared-cache (sharing=locked)") {
		t.Errorf("neither build said it waits for the cache mount")
	}
}

// TestCacheMountShared: sharing=shared (the default) lets both RUNs use the
// cache at once.
func TestCacheMountShared(t *testing.T) {
	for _, sharing := range []string{"shared", "private"} {
		t.Run(sharing, func(t *testing.T) {
			store := newStore(t)
			ctxDir := writeContext(t, sharingDockerfile(sharing), nil)
			started := make(chan string, 2)
			release := make(chan struct{})
			runs := make([]*buildRun, 2)
			var wg sync.WaitGroup
			for i, name := range []string{"A", "B"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runs[i] = buildCtx(context.Background(), t, store, frontend.Options{ContextDir: ctxDir, NoCache: true}, &holdRunner{name: name, started: started, release: release})
				}()
			}
			var dirs []string
			timeout := time.After(10 * time.Second)
			for len(dirs) < 2 {
				select {
				case d := <-started:
					dirs = append(dirs, d)
				case <-timeout:
					close(release)
					wg.Wait()
					t.Fatalf("sharing=%s: the second RUN did not start while the first used the cache (%v)", sharing, dirs)
				}
			}
			close(release)
			wg.Wait()
			for _, r := range runs {
				r.mustOK(t)
			}
			if same := dirs[0] == dirs[1]; same != (sharing == "shared") {
				t.Errorf("sharing=%s: dirs %v", sharing, dirs)
			}
			if sharing == "private" {
				// Nobody uses the cache now: the next private RUN gets the
				// shared instance again, not a third one.
				h := &holdRunner{name: "C"}
				buildCtx(context.Background(), t, store, frontend.Options{ContextDir: ctxDir, NoCache: true}, h).mustOK(t)
				if h.dirs[0] != dirs[0] && h.dirs[0] != dirs[1] {
					t.Errorf("third private RUN made a new instance %s (had %v)", h.dirs[0], dirs)
				}
			}
		})
	}
}

// TestCacheMountLockReleased: the lock goes when the RUN fails, and a build
// cancelled while waiting for it stops waiting and holds nothing.
func TestCacheMountLockReleased(t *testing.T) {
	store := newStore(t)
	ctxDir := writeContext(t, sharingDockerfile("locked"), nil)
	h := &holdRunner{name: "fails", code: 3}
	r := buildCtx(context.Background(), t, store, frontend.Options{ContextDir: ctxDir, NoCache: true}, h)
	var rf *RunFailure
	if !errors.As(r.err, &rf) || rf.ExitCode != 3 {
		t.Fatalf("err = %v, want exit code 3", r.err)
	}
	lockPath := filepath.Join(filepath.Dir(h.dirs[0]), "lock")
	assertFree := func() {
		t.Helper()
		f, ok, err := runmount.FlockFile(context.Background(), lockPath, unix.LOCK_EX, nil)
		if err != nil || !ok {
			t.Fatalf("cache lock still held (ok=%v, %v)", ok, err)
		}
		f.Close()
	}
	assertFree()

	// A holds the lock until released; B waits and is cancelled.
	started := make(chan string, 1)
	release := make(chan struct{})
	done := make(chan *buildRun, 1)
	go func() {
		done <- buildCtx(context.Background(), t, store, frontend.Options{ContextDir: ctxDir, NoCache: true}, &holdRunner{name: "A", started: started, release: release})
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	bDone := make(chan *buildRun, 1)
	bRunner := &holdRunner{name: "B"}
	go func() {
		bDone <- buildCtx(ctx, t, store, frontend.Options{ContextDir: ctxDir, NoCache: true}, bRunner)
	}()
	time.Sleep(200 * time.Millisecond) // B is waiting for the lock by now
	t0 := time.Now()
	cancel()
	select {
	case rb := <-bDone:
		if rb.err == nil || !errors.Is(rb.err, context.Canceled) && !strings.Contains(rb.err.Error(), "canceled") {
			t.Errorf("cancelled build: %v", rb.err)
		}
		if len(bRunner.dirs) != 0 {
			t.Errorf("cancelled build ran its RUN")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled build still waits for the cache lock")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	close(release)
	(<-done).mustOK(t)
	assertFree()
}

// TestRunOnRepeatedLayerQA: two steps that make the very same layer (the
// same file copied twice) put one layer dir twice in the chain; overlayfs
// refuses a lowerdir= that names a dir twice ("too many levels of
// symbolic links"), so every RUN after them failed. Docker builds this.
func TestRunOnRepeatedLayerQA(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: RUN uses the sandbox (CI runs as root)")
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox-static (apt-get install busybox-static)")
	}
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("the sandbox is not supported here")
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		// Files at the root only: a COPY into a directory that exists by
		// then copies the directory up with a new mtime, so whether two
		// such layers are byte-identical would depend on the clock.
		"Dockerfile": "FROM scratch\nCOPY busybox /busybox\nCOPY f /f\nCOPY busybox /busybox\nCOPY f /f\nRUN [\"/busybox\", \"cat\", \"/f\"]\n",
		"f":          "same\n",
	})
	os.WriteFile(dir+"/busybox", data, 0o755)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, runner).mustOK(t)
	ids := r.cfg().RootFS.DiffIDs
	if len(ids) != 5 || ids[0] != ids[2] || ids[1] != ids[3] || ids[4].String() != emptyLayerDiffID {
		t.Fatalf("layers %v: want the same two layers twice, then the RUN's empty layer (the test's premise)", ids)
	}
	var out []string
	for _, ev := range r.events {
		if l, ok := ev.(event.StepLog); ok && l.Stream == "stdout" {
			out = append(out, l.Line)
		}
	}
	if !strings.Contains(strings.Join(out, "\n"), "same") {
		t.Errorf("RUN output %q, want the file's content", out)
	}
}
