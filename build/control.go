package build

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/strata-build/strata/build/event"
)

// Control is the one interface a front end has into a running build:
// pause before a step, run one step, continue to the next breakpoint. The
// executor calls wait before every step; the TUI calls the other methods
// from its own goroutine. Breakpoints are Dockerfile lines: a step stops
// when its instruction spans a marked line.
type Control struct {
	mu     sync.Mutex
	breaks map[int]bool
	// pauseNext: stop before the next step whatever its line (start
	// paused, after Next, after Pause).
	pauseNext bool
	paused    bool
	resume    chan struct{}
	// pausedFor is the time the build has waited in wait, in all.
	pausedFor time.Duration
	pausedAt  time.Time // when the current pause began
}

// NewControl makes a control; startPaused stops before the first step
// (--step), lines are initial breakpoints (--break).
func NewControl(startPaused bool, lines []int) *Control {
	c := &Control{breaks: map[int]bool{}, pauseNext: startPaused}
	for _, l := range lines {
		c.breaks[l] = true
	}
	return c
}

// ToggleBreak sets or clears the breakpoint on a Dockerfile line and says
// whether it is now set.
func (c *Control) ToggleBreak(line int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.breaks[line] = !c.breaks[line]
	if !c.breaks[line] {
		delete(c.breaks, line)
	}
	return c.breaks[line]
}

// Breakpoints lists the marked lines, in order.
func (c *Control) Breakpoints() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for l := range c.breaks {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// Paused reports whether the build waits for Next or Continue.
func (c *Control) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// Next runs one step and pauses again before the following one.
func (c *Control) Next() { c.release(true) }

// Continue runs until the next breakpoint (or the end).
func (c *Control) Continue() { c.release(false) }

// Pause stops before the next step.
func (c *Control) Pause() {
	c.mu.Lock()
	c.pauseNext = true
	c.mu.Unlock()
}

// DropStepPause drops a pending stop before the next step (--step, Next,
// Pause); breakpoints stay. A session calls it before each build but the
// first, so that --step pauses the first build only.
func (c *Control) DropStepPause() {
	c.mu.Lock()
	c.pauseNext = false
	c.mu.Unlock()
}

func (c *Control) release(step bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pauseNext = step
	if c.paused && c.resume != nil {
		close(c.resume)
		c.resume = nil
		c.paused = false
	}
}

// PausedTime is how long the build has been paused so far (the current
// pause included): time that is no step's and not the build's.
func (c *Control) PausedTime() time.Duration {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.pausedFor
	if !c.pausedAt.IsZero() {
		d += time.Since(c.pausedAt)
	}
	return d
}

// addPaused ends a pause that began at t0 and says how long it lasted.
func (c *Control) addPaused(t0 time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := time.Since(t0)
	c.pausedFor += d
	c.pausedAt = time.Time{}
	return d
}

// wait blocks before a step while the build is paused there, announcing
// the pause with a Paused event. It returns the context's error when the
// build is cancelled while paused.
func (c *Control) wait(ctx context.Context, info event.StepInfo, emit func(event.Event)) error {
	if c == nil {
		return ctx.Err()
	}
	c.mu.Lock()
	why, line := "", info.StartLine
	switch {
	case c.pauseNext:
		why = "step"
	default:
		for l := info.StartLine; l <= max(info.EndLine, info.StartLine); l++ {
			if c.breaks[l] {
				why, line = "breakpoint", l // (the line the user marked)
				break
			}
		}
	}
	if why == "" {
		c.mu.Unlock()
		return ctx.Err()
	}
	c.paused = true
	c.pauseNext = false
	ch := make(chan struct{})
	c.resume = ch
	t0 := time.Now()
	c.pausedAt = t0
	c.mu.Unlock()
	emit(event.Paused{Base: event.Now(), Step: info.Index, Line: line, Why: why})
	select {
	case <-ch:
		d := c.addPaused(t0)
		emit(event.Resumed{Base: event.Now(), Step: info.Index, Paused: d})
		return nil
	case <-ctx.Done():
		c.addPaused(t0)
		c.mu.Lock()
		c.paused = false
		c.resume = nil
		c.mu.Unlock()
		return ctx.Err()
	}
}
