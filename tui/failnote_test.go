package tui

import (
	"strings"
	"testing"
)

// TestFailNoteShowsTheError: a failed RUN's note in the Dockerfile and
// Steps panes says what went wrong (exit code, the last line printed), not
// the command again.
func TestFailNoteShowsTheError(t *testing.T) {
	f := newFixture()
	m := newTestModel(t, f.be, 200, 50, f.failing()...)
	df, steps := upperPanes(t, m.render())
	for name, pane := range map[string][]string{"Dockerfile": df, "Steps": steps} {
		text := strings.Join(pane, "\n")
		if !strings.Contains(text, "exit code 1: rediss (no such package):") {
			t.Errorf("the %s pane's failure note lacks the exit code and last output:\n%s", name, text)
		}
		if strings.Contains(text, `process "/bin/sh -c`) {
			t.Errorf("the %s pane's failure note repeats the command:\n%s", name, text)
		}
	}
}
