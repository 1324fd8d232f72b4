package build

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
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

// runStages builds the plan's stages (p.Order): each as soon as the
// stages it reads (Deps) are built, at most jobs() at once. A stage's
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
		e.statCache = openStatCache(e.Store.Root(), e.Opt.ContextDir)
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
			for _, d := range s.Deps {
				ch, ok := done[d]
				if !ok {
					continue
				}
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
				errMu.Lock()
				bad := failed[d]
				errMu.Unlock()
				if bad {
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			if err := e.buildStage(ctx, s); err != nil {
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
