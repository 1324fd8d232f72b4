package tui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
)

// searchFixture is the redis build whose RUN step printed n lines, line
// needleAt being "needle here". As in a real build, the stream starts with
// strata's own "cache miss: …" info line, which the step's log file (the
// backend) does not hold.
func searchFixture(t *testing.T, n, needleAt int) *model {
	t.Helper()
	f := newFixture()
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("output %d", i+1)
	}
	lines[needleAt] = "needle here"
	f.be.logs[1] = lines
	all := f.events()
	evs := append([]event.Event(nil), all[:5]...)
	evs = append(evs, event.StepLog{Step: 1, Stream: "info", Line: "cache miss: no cache entry for this instruction on this parent"})
	for _, l := range lines {
		evs = append(evs, event.StepLog{Step: 1, Stream: "stdout", Line: l})
	}
	evs = append(evs, all[5+len(runLog):]...)
	m := newTestModel(t, f.be, 100, 30, evs...)
	press(t, m, "up", "up", "up", "up", "1") // the RUN step's log, opened at the bottom
	if !m.logs.follow || m.logs.off == 0 {
		t.Fatalf("the log should open at the bottom, following (off %d)", m.logs.off)
	}
	return m
}

var gutterRow = regexp.MustCompile(`^\s*(\d+) (.*?)\s*$`)

// shownLine is the text the screen shows for log line num (1-based).
func shownLine(t *testing.T, m *model, num int) string {
	t.Helper()
	screen := cleanScreen(m.logs.View()) // the log pane only
	for _, row := range strings.Split(screen, "\n")[1:] {
		if g := gutterRow.FindStringSubmatch(row); g != nil && g[1] == itoa(num) {
			return g[2]
		}
	}
	t.Fatalf("line %d is not on screen:\n%s", num, screen)
	return ""
}

func search(t *testing.T, m *model, q string) {
	t.Helper()
	press(t, m, "/")
	typeText(t, m, q)
	press(t, m, "enter")
}

// A search from the bottom of the log finds text above (it wraps, as less
// and vim do), and the line it reports is the line it highlights, which
// shows the text: for a short log (all in the live tail) and for one longer
// than the tail (read back from the backend).
func TestLogSearchWrapsAndAgrees(t *testing.T) {
	for _, n := range []int{200, 3000} {
		t.Run(itoa(n)+" lines", func(t *testing.T) {
			m := searchFixture(t, n, 2)
			search(t, m, "needle")
			want := 4 // the info line is line 1, output 3 is line 4
			if m.logs.match != want-1 {
				t.Fatalf("match at index %d (%s), want line %d", m.logs.match, m.logs.status, want)
			}
			if !strings.Contains(m.logs.status, "match at line "+itoa(want)) || !strings.Contains(m.logs.status, "wrapped to the top") {
				t.Errorf("status %q, want it to report line %d and say the search wrapped", m.logs.status, want)
			}
			if got := shownLine(t, m, want); got != "needle here" {
				t.Errorf("line %d shows %q, want the match", want, got)
			}
			if got := shownLine(t, m, 1); !strings.HasPrefix(got, "cache miss") {
				t.Errorf("line 1 shows %q, want the info line", got)
			}
			// N from the match goes up, wraps to the bottom and comes back
			press(t, m, "N")
			if m.logs.match != want-1 || !strings.Contains(m.logs.status, "wrapped to the bottom") {
				t.Errorf("N: match %d status %q", m.logs.match, m.logs.status)
			}
		})
	}
}

// A match near the end of a long log, read back from the backend: the
// shown line under the reported number is the match.
func TestLogSearchLongLogLineNumbers(t *testing.T) {
	m := searchFixture(t, 3000, 1500)
	press(t, m, "g")
	search(t, m, "needle")
	if m.logs.match != 1501 {
		t.Fatalf("match at index %d (%s), want 1501", m.logs.match, m.logs.status)
	}
	if got := shownLine(t, m, 1502); got != "needle here" {
		t.Errorf("line 1502 shows %q, want the match", got)
	}
	if got := shownLine(t, m, 1501); got != "output 1500" {
		t.Errorf("line 1501 shows %q, want output 1500", got)
	}
}
