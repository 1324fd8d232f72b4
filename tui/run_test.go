package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestFlowRunImageTicksQA: while x runs after the build has finished, the
// run row's spinner turns and its time counts up (they stood still at
// the first frame and 0.0s: the spinner stopped with the build).
func TestFlowRunImageTicksQA(t *testing.T) {
	f := newFixture()
	f.be.runGate = make(chan struct{})
	tm := startFlow(t, f.be, feed(f.events(), false), 100, 30)
	waitText(t, tm, "build complete")
	tm.Send(keyMsg("x"))
	waitModel(t, tm, "the run started", func(m *model) bool { return m.run != nil && !m.run.done })
	seen := map[string]bool{}
	waitModel(t, tm, "the run row to keep changing while it runs", func(m *model) bool {
		row := ""
		for _, l := range strings.Split(ansi.Strip(m.render()), "\n") {
			if strings.Contains(l, "run [") {
				row = l // the Steps pane's row comes before the Log tab's title
				break
			}
		}
		if row != "" {
			seen[row] = true
		}
		return len(seen) >= 4
	})
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
}

// TestFlowRunImageStopQA: x while the image's command runs (a server that
// never ends) stops it and the TUI stays; before, x only said "running
// already" and the only way out was to quit strata.
func TestFlowRunImageStopQA(t *testing.T) {
	f := newFixture()
	f.be.runGate = make(chan struct{}) // never opened: runs until stopped
	tm := startFlow(t, f.be, feed(f.events(), false), 100, 30)
	waitText(t, tm, "build complete")
	tm.Send(keyMsg("x"))
	waitModel(t, tm, "the run started", func(m *model) bool { return m.run != nil && !m.run.done })
	waitText(t, tm, "x stop")
	tm.Send(keyMsg("x"))
	waitModel(t, tm, "x to stop the run", func(m *model) bool {
		r := m.b.step(m.run.idx)
		return m.run.done && r != nil && r.status != statusRunning && !m.quitting
	})
	waitText(t, tm, "stopped")
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
}

// TestFlowRunImage: x runs the image's primary command; its output and
// exit code land in the run row's log. q while it runs stops it first.
func TestFlowRunImage(t *testing.T) {
	f := newFixture()
	f.be.runOut = []string{"1:C 28 Nov 2025 01:44:00.000 # oO0OoO0OoO0Oo Redis is starting", "Ready to accept connections tcp"}
	tm := startFlow(t, f.be, feed(f.events(), false), 100, 30)
	waitText(t, tm, "build complete", "x runs the primary command")
	tm.Send(keyMsg("x"))
	waitText(t, tm, `run ["redis-server","/etc/redis.conf"]`, "Ready to accept connections tcp", "exit code 0")
	// a second run that does not end by itself: q stops it, then leaves
	f.be.mu.Lock()
	f.be.runGate = make(chan struct{})
	f.be.mu.Unlock()
	tm.Send(keyMsg("x"))
	waitModel(t, tm, "the second run", func(m *model) bool { return m.run != nil && !m.run.done })
	tm.Send(keyMsg("q"))
	m := finalModel(t, tm)
	if m.run == nil || !m.run.done {
		t.Error("the program ended before the run stopped")
	}
	if f.be.runs != 2 {
		t.Errorf("RunImage called %d times", f.be.runs)
	}
}
