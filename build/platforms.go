package build

import (
	"context"
	"errors"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/sandbox"
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

// hasRun reports whether a stage runs a command (RUN), the one step that
// executes the platform's programs.
func hasRun(s *frontend.Stage) bool {
	for _, c := range s.Commands {
		if _, ok := c.(*instructions.RunCommand); ok {
			return true
		}
	}
	return false
}

// EmulatedStages are the stages of the plan's build whose RUNs execute
// another architecture's programs (under QEMU), by index.
func EmulatedStages(p *frontend.Plan) []int {
	var out []int
	for _, si := range p.Order {
		s := p.Stages[si]
		if hasRun(s) && !platforms.Native(StagePlatform(p, s)) {
			out = append(out, si)
		}
	}
	return out
}

// CheckEmulators finds, before any step runs, a stage whose RUN needs an
// emulator this machine lacks (a binfmt_misc handler qemu-<arch> with the
// F flag in dir; "" is sandbox.BinfmtDir). The error names the stage's
// FROM line, the platform and what to install.
func CheckEmulators(p *frontend.Plan, dir string) error {
	for _, si := range EmulatedStages(p) {
		s := p.Stages[si]
		pl := StagePlatform(p, s)
		arch := platforms.QEMUArch(pl)
		if arch == "" {
			return &frontend.LineError{File: p.File, Line: frontend.LineOf(s.Location),
				Err: fmt.Errorf("stage %s is for %s and runs commands, but QEMU has no user-mode emulator for %s; build it on such a machine, or make the stage FROM --platform=$BUILDPLATFORM", s.DisplayName(), platforms.Format(pl), pl.Architecture)}
		}
		if _, err := sandbox.CheckEmulator(dir, arch); err != nil {
			return &frontend.LineError{File: p.File, Line: frontend.LineOf(s.Location),
				Err: fmt.Errorf("stage %s is for %s and runs commands (RUN) on this %s machine: %w (strata info lists the emulators found)", s.DisplayName(), platforms.Format(pl), platforms.Format(platforms.Host()), err)}
		}
	}
	return nil
}

// keyLocks makes the platform runs of a multi-platform build build a
// step they share once: the step whose cache key another run is building
// waits for it, then finds it in the cache. A step that is the same for
// every platform is one of a stage FROM --platform=$BUILDPLATFORM that
// does not read TARGET* args: BuildKit merges those because their LLB is
// the same; strata because their cache key is.
type keyLocks struct {
	mu   sync.Mutex
	keys map[string]chan struct{} // key -> closed when its builder lets go
	held map[*stageState]string   // what each stage holds
}

func newKeyLocks() *keyLocks {
	return &keyLocks{keys: map[string]chan struct{}{}, held: map[*stageState]string{}}
}

// acquire lets st build the step of key, after any other stage building
// it lets go. It first lets go of what st held (its previous step is done).
func (k *keyLocks) acquire(ctx context.Context, st *stageState, key string) error {
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
func (k *keyLocks) release(st *stageState) {
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

// checkMultiOptions refuses what a multi-platform build cannot do.
func checkMultiOptions(opt frontend.Options, n int, c *cache.Shared) error {
	for _, o := range opt.Outputs {
		if o.Type == "docker" {
			return fmt.Errorf("--output type=docker,dest=%s: a docker archive holds one image, and docker load cannot load an index of %d platforms under one name; use -o type=oci,dest=DIR (an OCI image index) or -o type=registry (a manifest list), or build one platform per archive (--platform linux/arm64 -o type=docker,dest=app-arm64.tar)", o.Dest, n)
		}
	}
	if c != nil && len(c.To) > 0 {
		return errors.New("--cache-to with several --platform values is not supported yet: build each platform with its own --cache-to, or drop --cache-to")
	}
	return nil
}
