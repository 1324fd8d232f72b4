package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// failRunner fails every RUN with exit code 3.
type failRunner struct{}

func (failRunner) Run(ctx context.Context, r *RunRequest) (int, error) { return 3, nil }

// TestReportFailedBuild: a failed step carries its cache-miss reason and
// counts in the hit ratio; a second build on the same Report starts over.
func TestReportFailedBuild(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nENV A=1\nRUN false\n"})
	var rep event.Report
	run := func(runner Runner) error {
		p, err := frontend.NewPlan(frontend.Options{ContextDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		e := &Executor{Store: store, Plan: p, Opt: frontend.Options{ContextDir: dir}, Runner: runner, Observe: rep.Observe}
		_, err = e.Build(context.Background(), nil)
		return err
	}
	run(&fakeRunner{}) // fills the cache for FROM and ENV
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nENV A=1\nRUN false && echo changed\n"})
	var rf *RunFailure
	if err := run(failRunner{}); !errors.As(err, &rf) {
		t.Fatalf("build error %v, want a RunFailure", err)
	}
	var buf bytes.Buffer
	if _, err := rep.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Cached   int     `json:"cached"`
		Built    int     `json:"built"`
		HitRatio float64 `json:"cache_hit_ratio"`
		Steps    []struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Steps) != 3 || got.Steps[2].Status != "failed" || got.Steps[2].Reason != "instruction changed (was: RUN false)" {
		t.Errorf("steps %+v", got.Steps)
	}
	if got.Cached != 2 || got.HitRatio > 0.67 || got.HitRatio < 0.66 {
		t.Errorf("cached %d, hit ratio %v: want 2 of 3", got.Cached, got.HitRatio)
	}
}
