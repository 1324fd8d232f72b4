package session

import (
	"errors"
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/sandbox"
)

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
		if hasRun(s) && !platforms.Native(build.StagePlatform(p, s)) {
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
		pl := build.StagePlatform(p, s)
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
