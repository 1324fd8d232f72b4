package snapshot

import (
	"io"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// DebugShell is what a front end does with a debug shell: run it in the
// terminal (Run and the Set* methods make it a bubbletea ExecCommand), then
// ask what it changed and keep or discard that. *ShellCmd is the one real
// implementation; a front end's tests fake it.
type DebugShell interface {
	Run() error
	SetStdin(io.Reader)
	SetStdout(io.Writer)
	SetStderr(io.Writer)
	// Commands are the command lines typed in the shell.
	Commands() []string
	// RunLine is the RUN instruction that would redo them.
	RunLine() string
	// Changes lists what the shell changed.
	Changes() ([]layers.Change, error)
	// Keep turns the change into a snapshot (and removes the container).
	Keep() (*event.Snapshot, string, error)
	// Discard removes the container and its change.
	Discard()
}

var _ DebugShell = (*ShellCmd)(nil)

// OpenShell is Shell for front ends that take the DebugShell interface.
func (b *Backend) OpenShell(snap *event.Snapshot, opt ShellOptions) (DebugShell, error) {
	c, err := b.Shell(snap, opt)
	if err != nil {
		return nil, err
	}
	return c, nil
}
