package build

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// RunRequest is what the executor asks the sandbox to run for a RUN step.
type RunRequest struct {
	Lower     []string // layer dirs, top first
	Upper     string
	Work      string
	Args      []string
	Env       []string
	Dir       string
	User      string
	Network   string
	Stdout    io.Writer
	Stderr    io.Writer
	Container string
}

// RunFailure is a RUN whose command exited non-zero.
type RunFailure struct {
	Command  string
	ExitCode int
	Last     []string
}

func (f *RunFailure) Error() string {
	return fmt.Sprintf("process %q did not complete successfully: exit code: %d", f.Command, f.ExitCode)
}

func (e *Executor) run(ctx context.Context, st *stageState, step int, t0 time.Time, c *instructions.RunCommand) error {
	if e.Runner == nil {
		return fmt.Errorf("RUN needs the sandbox, which is not available here")
	}
	return fmt.Errorf("RUN is not implemented yet")
}
