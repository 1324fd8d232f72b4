package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// exitRunner fails RUN commands that contain "fail" (exit 4).
type exitRunner struct{}

func (exitRunner) Run(ctx context.Context, r *RunRequest) (int, error) {
	if strings.Contains(strings.Join(r.Args, " "), "fail") {
		return 4, nil
	}
	return 0, nil
}

// TestReasonAfterFailedBuildQA: after a build fails at a step, fixing
// that step is "instruction changed (was: the failed one)", retrying it
// unchanged says it failed last time, and the steps after it compare
// with the last build that ran them — not "new step (the last build had
// N steps)" nor "not in cache any more".
func TestReasonAfterFailedBuildQA(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	reasons := func(src string) []string {
		t.Helper()
		if err := os.WriteFile(df, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		r := buildIn(t, store, frontend.Options{ContextDir: dir}, exitRunner{})
		var out []string
		for _, ev := range r.events {
			if l, ok := ev.(event.StepLog); ok && l.Stream == "info" && strings.HasPrefix(l.Line, "cache miss: ") {
				out = append(out, strings.TrimPrefix(l.Line, "cache miss: "))
			}
		}
		return out
	}
	reasons("FROM scratch\nENV A=1\nRUN echo ok\nENV B=1\n")
	// the RUN fails: the stage stops there
	reasons("FROM scratch\nENV A=1\nRUN echo fail\nENV B=1\n")
	// the same failing RUN again
	got := reasons("FROM scratch\nENV A=1\nRUN echo fail\nENV B=1\n")
	if len(got) != 1 || !strings.Contains(got[0], "fail") || strings.Contains(got[0], "not in cache") {
		t.Errorf("retrying the failed step: reasons %q; want one saying it failed last time", got)
	}
	// fixed, with a changed step after it
	got = reasons("FROM scratch\nENV A=1\nRUN echo fixed\nENV B=2\n")
	want := []string{"instruction changed (was: RUN echo fail)", "instruction changed (was: ENV B=1)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("after fixing the failed step: reasons %q, want %q", got, want)
	}
}
