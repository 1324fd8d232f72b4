package space

import (
	"context"
	"errors"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// Collector gathers from a build's (or an inspection's) events what the
// analysis needs: the steps, the layer each made, the final image. Use
// Observe as (or inside) Executor.Observe; it is safe for concurrent use.
type Collector struct {
	mu      sync.Mutex
	steps   []event.StepInfo
	inspect bool
	made    map[v1.Hash]int // layer → the first step that made it
	last    *event.Snapshot // the snapshot of the highest step
	lastAt  int
	imageID string
	failed  bool
}

// Observe takes one event.
func (c *Collector) Observe(ev event.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := func(step int, s *event.Snapshot) {
		if s == nil {
			return
		}
		if s.DiffID.Hex != "" {
			if _, ok := c.made[s.DiffID]; !ok {
				c.made[s.DiffID] = step
			}
		}
		if c.last == nil || step >= c.lastAt {
			c.last, c.lastAt = s, step
		}
	}
	switch e := ev.(type) {
	case event.PlanReady:
		c.steps, c.inspect = e.Steps, e.Inspect
		c.made, c.last, c.lastAt, c.imageID, c.failed = map[v1.Hash]int{}, nil, 0, "", false
	case event.StepDone:
		snap(e.Step, e.Snapshot)
	case event.StepCached:
		snap(e.Step, e.Snapshot)
	case event.BuildDone:
		c.imageID, c.failed = e.ImageID, e.Error != ""
	}
}

// Image is the final image's id and its layers as the analysis takes
// them, with how the base image's were told apart; ok is false when the
// events told no finished image.
func (c *Collector) Image() (imageID string, in []Layer, baseRule string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || c.failed {
		return "", nil, "", false
	}
	for _, d := range c.last.Layers {
		l := Layer{DiffID: d, Step: -1}
		if st, ok := c.made[d]; ok && st < len(c.steps) {
			s := c.steps[st]
			l.Step, l.Line, l.EndLine, l.Kind, l.Instruction = st, s.StartLine, s.EndLine, s.Kind, s.Text
			l.History = c.inspect // an inspection's steps are history entries
		} else {
			l.Base = true
		}
		in = append(in, l)
	}
	baseRule = "the layers of the FROM image (no step of this build made them)"
	if c.inspect {
		baseRule = inspectBase(c.last.Config, in)
	}
	return c.imageID, in, baseRule, true
}

// inspectBase marks the base image's layers of an existing image: those
// before the first layer whose history entry a Dockerfile build wrote
// (BuildKit's and strata's comment); when no entry says so, only the
// first layer, as dive does.
func inspectBase(cfg *v1.ConfigFile, in []Layer) string {
	first := -1
	if cfg != nil {
		li := 0
		for _, h := range cfg.History {
			if h.EmptyLayer {
				continue
			}
			if h.Comment == layers.HistoryComment && first < 0 {
				first = li
			}
			li++
		}
		if li != len(in) {
			first = -1
		}
	}
	rule := "the layers before the first one a Dockerfile build made (its history comment " + layers.HistoryComment + ")"
	if first < 0 {
		first = min(1, len(in))
		rule = "the first layer, as dive counts it (the image's history does not tell which layers are its base's)"
	}
	for i := range in {
		in[i].Base = i < first
	}
	return rule
}

// Run is the analysis (Run) of the image the events told.
func (c *Collector) Run(ctx context.Context, s *layers.Store, opt Options) (*Analysis, error) {
	id, in, rule, ok := c.Image()
	if !ok {
		return nil, errors.New("no image to analyse: the build did not finish")
	}
	a, err := Run(ctx, s, id, in, opt)
	if a != nil {
		a.BaseRule = rule
	}
	return a, err
}
