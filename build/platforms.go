package build

import (
	"context"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/platforms"
)

// StagePlatform is the platform a stage builds for: its FROM --platform,
// else the plan's target.
func StagePlatform(p *frontend.Plan, s *frontend.Stage) v1.Platform {
	if s.Platform != "" {
		if pl, err := platforms.Parse(s.Platform); err == nil {
			return pl
		}
	}
	return p.Platform
}

// KeyLocks makes the stages of one build that run side by side, and the
// platform runs of a multi-platform build, build a step they share once
// (two stages FROM the same base with the same first RUN): the step whose cache key another run is building
// waits for it, then finds it in the cache. A step that is the same for
// every platform is one of a stage FROM --platform=$BUILDPLATFORM that
// does not read TARGET* args: BuildKit merges those because their LLB is
// the same; strata because their cache key is.
//
// Each Build makes its own unless ShareSteps gave it one: a
// multi-platform build (build/session's Multi) makes one with NewKeyLocks
// and gives it to each platform's Executor.
type KeyLocks struct {
	mu   sync.Mutex
	keys map[string]chan struct{} // key -> closed when its builder lets go
	held map[*stageState]string   // what each stage holds
}

// NewKeyLocks makes the locks one multi-platform build's runs share.
func NewKeyLocks() *KeyLocks {
	return &KeyLocks{keys: map[string]chan struct{}{}, held: map[*stageState]string{}}
}

// ShareSteps makes e one of the runs that share k: a step whose cache key
// another run is building waits for it. Call it before Build.
func (e *Executor) ShareSteps(k *KeyLocks) { e.dedupe = k }

// acquire lets st build the step of key, after any other stage building
// it lets go. It first lets go of what st held (its previous step is done).
func (k *KeyLocks) acquire(ctx context.Context, st *stageState, key string) error {
	if k == nil {
		return nil
	}
	k.release(st)
	for {
		k.mu.Lock()
		ch, busy := k.keys[key]
		if !busy {
			k.keys[key] = make(chan struct{})
			k.held[st] = key
			k.mu.Unlock()
			return nil
		}
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release lets go of the key st holds, if any.
func (k *KeyLocks) release(st *stageState) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.held[st]; ok {
		close(k.keys[key])
		delete(k.keys, key)
		delete(k.held, st)
	}
}
