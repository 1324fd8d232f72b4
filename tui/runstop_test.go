package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// killedRun runs the image's command until it is stopped, then returns as
// the sandbox does for a killed container: 128+SIGKILL and the cause.
type killedRun struct{ *fakeBackend }

func (k killedRun) RunImage(ctx context.Context, cfg *v1.ConfigFile, out func(stream, line string)) (int, error) {
	out("stdout", "Ready to accept connections")
	<-ctx.Done()
	return 137, fmt.Errorf("sandbox: container 0123456789ab: %w", context.Cause(ctx))
}

// An x run stopped with x says what happened (stopped, exit 137) in its
// row, its note and its log; before, the row said ✓ exit 0.
func TestFlowRunImageStoppedSaysSo(t *testing.T) {
	f := newFixture()
	tm := startFlow(t, killedRun{f.be}, feed(f.events(), false), 100, 30)
	waitText(t, tm, "build complete")
	tm.Send(keyMsg("x"))
	waitModel(t, tm, "the run started", func(m *model) bool { return m.run != nil && !m.run.done })
	waitText(t, tm, "Ready to accept")
	tm.Send(keyMsg("x"))
	waitModel(t, tm, "the run stopped", func(m *model) bool {
		r := m.b.step(m.run.idx)
		return m.run.done && r != nil && r.status != statusRunning
	})
	waitText(t, tm, "stopped · exit 137")
	tm.Send(keyMsg("q"))
	m := finalModel(t, tm)
	r := m.b.step(m.run.idx)
	if r.status == statusBuilt || !r.stopped || r.exitCode != 137 {
		t.Errorf("the stopped run: status %v stopped %v exit %d", r.status, r.stopped, r.exitCode)
	}
	if got := m.steps.stepRight(m.run.idx, r); got != "stopped · exit 137" {
		t.Errorf("run row says %q", got)
	}
	if last, _ := r.tailLine(r.logN - 1); last != "stopped with x, exit code 137" {
		t.Errorf("the log ends %q", last)
	}
	if story := strings.Join(runStory(m.c, r, 100), "\n"); !strings.Contains(story, "stopped with x, exit code 137") || strings.Contains(story, "code 0") {
		t.Errorf("Step tab:\n%s", story)
	}
}
