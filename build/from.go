package build

import (
	"context"
	"fmt"

	"github.com/strata-build/strata/layers"
)

// fromSource resolves a --from= value (COPY --from, RUN --mount from=)
// as BuildKit does: a stage of this Dockerfile by name or index, otherwise
// an image reference. It returns the stage's state and index, or for an
// image a state holding its config and index -1. step is the plan step
// that asks (its pull progress and warnings are told as that step's).
func (e *Executor) fromSource(ctx context.Context, step int, from string) (*stageState, int, error) {
	byName := map[string]int{}
	for _, s := range e.Plan.Stages {
		if s.Name != "" {
			byName[s.Name] = s.Index
		}
	}
	j, isStage, err := e.Plan.ResolveStageRef(from, byName)
	if err != nil {
		return nil, -1, err
	}
	if isStage {
		st, ok := e.awaitStage(ctx, j) // parallel.go: waits while j builds
		if !ok {
			return nil, j, fmt.Errorf("--from=%s: stage %s is not built yet (--from can only read stages defined before this one)", from, e.Plan.Stages[j].DisplayName())
		}
		return st, j, nil
	}
	p := e.Plan.Platform
	cfg, err := e.resolveImage(ctx, step, from, &p)
	if err != nil {
		return nil, -1, fmt.Errorf("--from=%s: not a stage of this Dockerfile (stages are named with FROM IMAGE AS NAME, or numbered from 0), so read as an image: %w", from, err)
	}
	return &stageState{cfg: cfg}, -1, nil
}

// fromView is the filesystem COPY --from names at plan step step: a stage
// or an image.
func (e *Executor) fromView(ctx context.Context, step int, from string) (*layers.View, error) {
	st, _, err := e.fromSource(ctx, step, from)
	if err != nil {
		return nil, err
	}
	return st.view(e.Store), nil
}
