package build

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// panicRunner panics in every RUN: a stand-in for a bug of strata.
type panicRunner struct{}

func (panicRunner) Run(ctx context.Context, r *RunRequest) (int, error) { panic("runner bug") }

// TestBuildPanicKeepsStack: a panic during a build ends it with an error
// that says so and keeps where it happened.
func TestBuildPanicKeepsStack(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nRUN true\n"})
	p, err := frontend.NewPlan(frontend.Options{ContextDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := &Executor{Store: store, Plan: p, Opt: frontend.Options{ContextDir: dir}, Runner: panicRunner{}}
	_, err = e.Build(context.Background(), nil)
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Build error %v (%T), want a *PanicError", err, err)
	}
	if err.Error() != "internal error: runner bug" {
		t.Errorf("error %q", err)
	}
	if !strings.Contains(string(pe.Stack), "panicRunner") {
		t.Errorf("the stack does not name where it panicked:\n%s", pe.Stack)
	}
}
