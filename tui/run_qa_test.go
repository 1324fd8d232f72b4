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
	waitModel(t, tm, "the run started", func(m *Model) bool { return m.run != nil && !m.run.done })
	seen := map[string]bool{}
	waitModel(t, tm, "the run row to keep changing while it runs", func(m *Model) bool {
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
