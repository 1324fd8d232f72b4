package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

// Session is an interactive build: it builds, then builds again when asked
// (Rebuild) or when the Dockerfile or the context changes (Watch), all on
// one event stream. Every build on it starts with PlanReady and ends with
// BuildDone; a Dockerfile that no longer parses gives a PlanReady with its
// source and a BuildDone with the error and line. Unchanged steps come
// from the cache at once, each changed one says why it was rebuilt.
type Session struct {
	Store   *layers.Store
	Opt     frontend.Options
	Runner  build.Runner
	Control *build.Control    // shared by every build of the session (may be nil)
	Observe func(event.Event) // sees every event (e.g. a report)
	Cache   *cache.Shared     // --cache-from / --cache-to (build/cache, cachestep.go)
	Jobs    int               // --jobs: stages built at once (Executor.Jobs)
	Backend *snapshot.Backend // follows the current build; made by New

	events chan event.Event
	reqs   chan int

	mu      sync.Mutex
	cancel  context.CancelFunc
	result  *build.Result
	err     error
	builds  int
	running bool
}

// New prepares a session; Run starts it.
func New(store *layers.Store, opt frontend.Options, runner build.Runner, control *build.Control) *Session {
	s := &Session{Store: store, Opt: opt, Runner: runner, Control: control,
		events: make(chan event.Event, 1024), reqs: make(chan int, 1)}
	s.Backend = snapshot.NewBackend(store, nil)
	return s
}

// Events is the session's stream; closed when Run returns.
func (s *Session) Events() <-chan event.Event { return s.events }

// Last is the outcome of the last finished build.
func (s *Session) Last() (*build.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.result, s.err
}

// Builds counts the builds started so far.
func (s *Session) Builds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.builds
}

// Rebuild stops the running build (if any) and starts another; steps at
// plan index noCacheFrom and after skip the cache when it is > 0.
// Requests made while one is pending are merged.
func (s *Session) Rebuild(noCacheFrom int) {
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	select {
	case s.reqs <- noCacheFrom:
	default:
		// One is queued already; a "without cache" request wins.
		if noCacheFrom > 0 {
			select {
			case <-s.reqs:
			default:
			}
			select {
			case s.reqs <- noCacheFrom:
			default:
			}
		}
	}
}

// Run builds, then waits for rebuild requests, until ctx is done.
func (s *Session) Run(ctx context.Context) {
	defer close(s.events)
	s.build(ctx, 0)
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.reqs:
			s.build(ctx, n)
		}
	}
}

func (s *Session) build(ctx context.Context, noCacheFrom int) {
	opt := s.Opt
	opt.NoCacheFrom = noCacheFrom
	s.mu.Lock()
	s.builds++
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()
	plan, perr := frontend.NewPlan(opt)
	if perr != nil {
		for _, ev := range frontend.ParseFailed(plan, perr) {
			if s.Observe != nil {
				s.Observe(ev)
			}
			s.send(ctx, ev)
		}
		s.mu.Lock()
		s.result, s.err = nil, perr
		s.mu.Unlock()
		return
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ex := &build.Executor{Store: s.Store, Plan: plan, Opt: opt, Runner: s.Runner, Control: s.Control, Observe: s.Observe, Cache: s.Cache, Jobs: s.Jobs}
	if s.Control != nil && s.builds > 1 {
		// --step pauses the first build only; breakpoints stay.
		s.Control.DropStepPause()
	}
	s.Backend.Attach(ex.LogPathOrNone, opt.Network, cancel)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	ch := make(chan event.Event, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			s.send(ctx, ev)
		}
	}()
	res, err := ex.Build(bctx, ch)
	<-done
	s.mu.Lock()
	s.cancel = nil
	s.result, s.err = res, err
	s.mu.Unlock()
}

// send forwards an event unless the session is over.
func (s *Session) send(ctx context.Context, ev event.Event) {
	select {
	case s.events <- ev:
	case <-ctx.Done():
	}
}

// Watch rebuilds when the Dockerfile or a file of the context that is not
// .dockerignored changes, after debounce of quiet. It returns when ctx is
// done.
func (s *Session) Watch(ctx context.Context, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	ctxDir, err := filepath.Abs(s.Opt.ContextDir)
	if err != nil {
		return err
	}
	df := s.Opt.Dockerfile
	if df == "" {
		df = filepath.Join(ctxDir, "Dockerfile")
	}
	df, _ = filepath.Abs(df)
	ign, _ := frontend.LoadIgnore(ctxDir, df)
	root := s.Store.Root()
	addTree := func(dir string) {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if p == root {
				return filepath.SkipDir
			}
			rel, _ := filepath.Rel(ctxDir, p)
			rel = filepath.ToSlash(rel)
			if rel != "." && ign != nil && ign.Excluded(rel) && !ign.MayMatchInside(rel) {
				return filepath.SkipDir
			}
			w.Add(p)
			return nil
		})
	}
	addTree(ctxDir)
	if dfDir := filepath.Dir(df); dfDir != ctxDir && !strings.HasPrefix(dfDir, ctxDir+string(filepath.Separator)) {
		w.Add(dfDir)
	}
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			_ = err // an overflow only means we may miss one change; the next save is seen
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !s.relevant(ev.Name, ctxDir, df, root, &ign) {
				continue
			}
			if ev.Op&fsnotify.Create != 0 {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					addTree(ev.Name)
				}
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			s.Rebuild(0)
		}
	}
}

// relevant: a change of the Dockerfile, its ignore file, or a context
// file that is neither ignored nor an editor's scratch file.
func (s *Session) relevant(name, ctxDir, df, root string, ign **frontend.Ignore) bool {
	if name == df {
		return true
	}
	if strings.HasPrefix(name, root+string(filepath.Separator)) || name == root {
		return false
	}
	base := filepath.Base(name)
	if strings.HasSuffix(base, ".swp") || strings.HasSuffix(base, ".swx") || strings.HasSuffix(base, "~") ||
		strings.HasPrefix(base, ".#") || base == "4913" {
		return false
	}
	if base == ".dockerignore" || base == filepath.Base(df)+".dockerignore" {
		if ig, err := frontend.LoadIgnore(ctxDir, df); err == nil {
			*ign = ig
		}
		return true
	}
	rel, err := filepath.Rel(ctxDir, name)
	if err != nil || strings.HasPrefix(rel, "..") {
		return false
	}
	if *ign != nil && (*ign).Excluded(filepath.ToSlash(rel)) {
		return false
	}
	return true
}
