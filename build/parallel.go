package build

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/strata-build/strata/build/source"
)

// jobs is how many stages may build at once.
func (e *Executor) jobs() int {
	n := e.Jobs
	if n <= 0 {
		n = runtime.NumCPU()
	}
	// A shared cache's lazy layers and its retry (buildStages) keep
	// state of their own: those builds stay one stage at a time.
	if e.Cache != nil && len(e.Cache.From) > 0 {
		n = 1
	}
	return max(n, 1)
}

// runStages builds the plan's stages (p.Order), at most jobs() at once: a
// stage starts as soon as the stage it is built FROM is done, and a step
// that reads another stage (COPY --from, RUN --mount from=) waits for
// that one there (awaitStage), giving its slot up meanwhile, as BuildKit
// runs a stage's steps until one needs what another makes. A stage's
// result depends only on its inputs, never on what ran beside it, so the
// image is the same as a sequential build's. The first stage that fails
// cancels the others; its error is the build's.
func (e *Executor) runStages(ctx context.Context) error {
	order := e.Plan.Order
	jobs := e.jobs()
	if jobs == 1 || len(order) < 2 {
		for _, si := range order {
			if err := e.buildStage(ctx, e.Plan.Stages[si]); err != nil {
				return err
			}
		}
		return nil
	}
	if e.statCache == nil { // shared by the stages' COPY checksums
		e.statCache = source.OpenStatCache(e.Store.Root(), e.Opt.ContextDir)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(map[int]chan struct{}, len(order))
	for _, si := range order {
		done[si] = make(chan struct{})
	}
	var (
		sem      = make(chan struct{}, jobs)
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		failed   = map[int]bool{}
	)
	sc := &scheduler{sem: sem, done: done, failed: func(j int) bool {
		errMu.Lock()
		defer errMu.Unlock()
		return failed[j]
	}}
	fail := func(si int, err error) {
		errMu.Lock()
		defer errMu.Unlock()
		failed[si] = true
		// The cancellation this error causes in other stages is not the
		// cause.
		if firstErr == nil || (errors.Is(firstErr, context.Canceled) && !errors.Is(err, context.Canceled)) {
			firstErr = err
		}
		cancel()
	}
	for _, si := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[si])
			s := e.Plan.Stages[si]
			if ch, ok := done[s.BaseStage]; ok {
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
				if sc.failed(s.BaseStage) {
					return
				}
			}
			slot := &stageSlot{sc: sc}
			defer slot.release()
			if !slot.acquire(ctx) {
				return
			}
			if err := e.buildStage(context.WithValue(ctx, slotKey{}, slot), s); err != nil {
				fail(si, err)
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		// Every stage ran or was skipped because the caller cancelled.
		for _, si := range order {
			if _, ok := e.stageOf(si); !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
	}
	return firstErr
}

// scheduler is runStages' state that a stage's steps need: the slots,
// and when each stage is done (and whether it failed).
type scheduler struct {
	sem    chan struct{}
	done   map[int]chan struct{}
	failed func(int) bool
}

// stageSlot is one stage's hold on a slot; it travels in the stage's
// context.
type stageSlot struct {
	sc   *scheduler
	held bool
}

type slotKey struct{}

func (sl *stageSlot) acquire(ctx context.Context) bool {
	select {
	case sl.sc.sem <- struct{}{}:
		sl.held = true
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

func (sl *stageSlot) release() {
	if sl.held {
		<-sl.sc.sem
		sl.held = false
	}
}

// awaitStage is stage j once it is built: in a concurrent build, the
// calling stage waits for it (without its slot) when it is still being
// built. false: j is not built (not in this build, failed, or cancelled).
func (e *Executor) awaitStage(ctx context.Context, j int) (*stageState, bool) {
	if sl, ok := ctx.Value(slotKey{}).(*stageSlot); ok {
		if ch, ok := sl.sc.done[j]; ok {
			select {
			case <-ch:
			default:
				sl.release()
				select {
				case <-ch:
				case <-ctx.Done():
				}
				if !sl.acquire(ctx) {
					return nil, false
				}
			}
			if sl.sc.failed(j) {
				return nil, false
			}
		}
	}
	return e.stageOf(j)
}

func (e *Executor) stageOf(i int) (*stageState, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.stages[i]
	return st, ok
}

func (e *Executor) setStage(i int, st *stageState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stages[i] = st
}

// count adds a cached (or built) step to the build's totals.
func (e *Executor) count(cached bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cached {
		e.cached++
	} else {
		e.built++
	}
}

// wait is Control.wait for plan step step: one stage at a time may pause
// (a paused build pauses every stage at its next step).
func (e *Executor) wait(ctx context.Context, step int) error {
	if e.Control == nil {
		return ctx.Err()
	}
	e.ctlMu.Lock()
	defer e.ctlMu.Unlock()
	return e.Control.wait(ctx, e.Plan.Steps[step], e.emit)
}

// metadataOnly: the instruction changes only the config (no layer).
func metadataOnly(c instructions.Command) bool {
	switch c.(type) {
	case *instructions.CopyCommand, *instructions.AddCommand, *instructions.RunCommand, *instructions.WorkdirCommand:
		return false
	}
	return true
}
