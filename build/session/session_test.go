package session

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
	"golang.org/x/sys/unix"
)

// controlDockerfile is build's control tests' Dockerfile: a breakpoint
// on line 4 stops before the ENV B=2 step.
const controlDockerfile = "FROM scratch\nENV A=1\nCOPY a /a\nENV B=2\nRUN true\nCMD [\"x\"]\n"

// newStore opens a store in a fresh temp dir, closed at the end of the test.
func newStore(t testing.TB) *layers.Store {
	t.Helper()
	return testutil.TempStore(t, layers.Open)
}

// fakeRunner records RUN requests and changes nothing.
type fakeRunner struct{ reqs []*build.RunRequest }

func (f *fakeRunner) Run(ctx context.Context, r *build.RunRequest) (int, error) {
	f.reqs = append(f.reqs, r)
	return 0, nil
}

// sessionBuilds collects a session's events build by build.
type sessionBuilds struct {
	builds chan []event.Event
}

func watchSession(s *Session) *sessionBuilds {
	sb := &sessionBuilds{builds: make(chan []event.Event, 16)}
	go func() {
		var cur []event.Event
		for ev := range s.Events() {
			cur = append(cur, ev)
			if _, ok := ev.(event.BuildDone); ok {
				sb.builds <- cur
				cur = nil
			}
		}
		close(sb.builds)
	}()
	return sb
}

func (sb *sessionBuilds) next(t *testing.T) []event.Event {
	t.Helper()
	select {
	case b, ok := <-sb.builds:
		if !ok {
			t.Fatal("session ended")
		}
		return b
	case <-time.After(20 * time.Second):
		t.Fatal("no build finished in 20s")
	}
	return nil
}

// waitInotifyWatch waits until an inotify instance of this process
// watches dir (what Session.Watch sets up before it can see a save), read
// from /proc/self/fdinfo: "inotify wd:N ino:HEX sdev:HEX ...".
func waitInotifyWatch(t *testing.T, dir string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(" ino:%x sdev:%x ", st.Ino, unix.Major(st.Dev)<<20|unix.Minor(st.Dev))
	deadline := time.Now().Add(20 * time.Second)
	for {
		fds, _ := os.ReadDir("/proc/self/fd")
		for _, fd := range fds {
			if l, _ := os.Readlink("/proc/self/fd/" + fd.Name()); l != "anon_inode:inotify" {
				continue
			}
			info, _ := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
			if strings.Contains(string(info), want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no inotify watch on %s after 20s", dir)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func outcomesOf(evs []event.Event) []string {
	var out []string
	idx := map[int]int{}
	for _, ev := range evs {
		switch ev := ev.(type) {
		case event.PlanReady:
			out = make([]string, len(ev.Steps))
			for i := range ev.Steps {
				idx[i] = i
			}
		case event.StepCached:
			out[ev.Step] = "cached"
		case event.StepDone:
			out[ev.Step] = "built: " + ev.Reason
		case event.BuildDone:
			if ev.Error != "" {
				out = append(out, "error: "+ev.Error)
			}
		}
	}
	return out
}

// TestSessionWatchRebuilds: saving a context file or the Dockerfile
// rebuilds; the unchanged prefix comes from cache; a new step runs;
// an unparsable Dockerfile reports its line; an ignored file does not
// rebuild.
func TestSessionWatchRebuilds(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	df := "FROM scratch\nENV A=1\nCOPY a /a\nRUN echo hi\n"
	testutil.WriteTree(t, dir, map[string]string{"Dockerfile": df, "a": "1", ".dockerignore": "*.log\n"})
	fr := &fakeRunner{}
	s := New(store, frontend.Options{ContextDir: dir}, fr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sb := watchSession(s)
	go s.Run(ctx)
	watchErr := make(chan error, 1)
	go func() { watchErr <- s.Watch(ctx, 50*time.Millisecond) }()
	first := outcomesOf(sb.next(t))
	if strings.Join(first, "|") != "built: first build|built: first build|built: first build|built: first build" {
		t.Fatalf("first build %q", first)
	}
	waitInotifyWatch(t, dir) // the watcher is set up

	os.WriteFile(filepath.Join(dir, "a"), []byte("2"), 0o644)
	got := outcomesOf(sb.next(t))
	if strings.Join(got, "|") != "cached|cached|built: file a changed|built: an earlier step was rebuilt" {
		t.Errorf("after saving a: %q", got)
	}

	os.WriteFile(filepath.Join(dir, "debug.log"), []byte("ignored"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df+"RUN echo new\n"), 0o644)
	got = outcomesOf(sb.next(t))
	if strings.Join(got, "|") != "cached|cached|cached|cached|built: new step (the last build had 4 steps in this stage)" {
		t.Errorf("after appending a RUN: %q", got)
	}

	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df+"COPY onlyone\n"), 0o644)
	got = outcomesOf(sb.next(t))
	if len(got) == 0 || !strings.Contains(got[len(got)-1], "Dockerfile:5") {
		t.Errorf("unparsable Dockerfile: %q", got)
	}
	if n := s.Builds(); n != 4 {
		t.Errorf("%d builds, want 4 (the .log file must not rebuild)", n)
	}

	// R: rebuild without cache from step 3 (COPY).
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	sb.next(t)
	s.Rebuild(2)
	got = outcomesOf(sb.next(t))
	if len(got) != 4 || got[0] != "cached" || got[1] != "cached" || !strings.HasPrefix(got[2], "built: rebuilt without cache from step 3/4") {
		t.Errorf("rebuild without cache from step 3: %q", got)
	}
	cancel()
	if err := <-watchErr; err != nil {
		t.Error(err)
	}
}

// TestSessionRebuildCancelsPaused: a rebuild request ends a build paused
// at a breakpoint and starts the next, which pauses there again.
func TestSessionRebuildCancelsPaused(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	testutil.WriteTree(t, dir, map[string]string{"Dockerfile": controlDockerfile, "a": "x"})
	c := build.NewControl(false, []int{4})
	s := New(store, frontend.Options{ContextDir: dir}, &fakeRunner{}, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	paused := make(chan int, 4)
	done := make(chan string, 4)
	go func() {
		for ev := range s.Events() {
			switch ev := ev.(type) {
			case event.Paused:
				paused <- ev.Line
			case event.BuildDone:
				done <- ev.Error
			}
		}
	}()
	go s.Run(ctx)
	if l := <-paused; l != 4 {
		t.Fatalf("paused at %d", l)
	}
	s.Rebuild(0)
	if e := <-done; !strings.Contains(e, "canceled") {
		t.Errorf("first build ended with %q, want cancelled", e)
	}
	if l := <-paused; l != 4 {
		t.Fatalf("second build paused at %d", l)
	}
	c.Continue()
	if e := <-done; e != "" {
		t.Errorf("second build: %s", e)
	}
}
