package build

import (
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// TestOnbuildFromAStage: a stage built FROM another stage of the same
// Dockerfile runs that stage's ONBUILD triggers, once, and clears them
// from its config, so a stage built from it does not run them again
// (BuildKit's resolveStages gathers the base stage's OnbuildCommands as
// triggers, and dispatchState.init clears the inherited OnBuild).
func TestOnbuildFromAStage(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	df := "FROM scratch AS base\nONBUILD ENV TRIG=yes\nONBUILD COPY a /a\n\nFROM base AS mid\nENV M=1\n\nFROM mid AS last\nENV L=1\n"
	r := build(t, store, df, map[string]string{"a": "x"}, frontend.Options{}).mustOK(t)
	cfg := r.cfg()
	if r.env()["TRIG"] != "yes" {
		t.Errorf("the trigger did not run: env %q", cfg.Config.Env)
	}
	if len(cfg.Config.OnBuild) != 0 {
		t.Errorf("OnBuild = %q, want cleared", cfg.Config.OnBuild)
	}
	if n := len(cfg.RootFS.DiffIDs); n != 1 {
		t.Errorf("%d layers, want 1 (the trigger's COPY, run once)", n)
	}
	runs := 0
	for _, ev := range r.events {
		if l, ok := ev.(event.StepLog); ok && strings.HasPrefix(l.Line, "running ONBUILD trigger") {
			runs++
			if r.plan.Steps[l.Step].Text != "FROM base AS mid" {
				t.Errorf("trigger ran under %q, want FROM base AS mid", r.plan.Steps[l.Step].Text)
			}
		}
	}
	if runs != 2 {
		t.Errorf("%d trigger runs, want 2 (both, once)", runs)
	}
	// A rebuild takes them from the cache and makes the same image.
	r2 := buildIn(t, store, frontend.Options{ContextDir: r.ctxDir}, nil).mustOK(t)
	if r2.res.ImageID != r.res.ImageID {
		t.Errorf("rebuild made %s, want %s", r2.res.ImageID, r.res.ImageID)
	}
}
