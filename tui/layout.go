package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// paneNeeds is the room the two upper panes' content asks for, borders
// included: the Dockerfile's longest line, the step tree's widest row (with
// every column, and with the fewest that still say something), and the
// rows both take.
type paneNeeds struct {
	df, dfMin    int // columns
	steps, stMin int
	rows         int // content rows of the taller upper pane
}

// needs measures the upper panes' content.
func (m *model) needs() paneNeeds {
	var n paneNeeds
	nw := len(itoa(len(m.b.source)))
	gutter := nw + 3 // number, breakpoint, state, selection mark
	longest := 0
	for _, l := range m.b.source {
		longest = max(longest, ansi.StringWidth(l))
	}
	n.df = 2 + gutter + longest
	n.dfMin = 2 + gutter + min(longest, 24)
	n.rows = len(m.b.source)
	for _, ws := range m.b.warnings {
		n.rows += len(ws)
	}
	n.rows++ // a failure's note under its line
	if len(m.b.steps) == 0 {
		n.steps, n.stMin = n.df, n.dfMin
		if len(m.b.source) == 0 {
			n.df, n.dfMin, n.steps, n.stMin = 40, 20, 40, 20
		}
		return n
	}
	wide, narrow := m.steps, m.steps
	wide.w, narrow.w = 1000, 59 // every column; no files column
	label, head, right, rightMin := 0, 0, 0, 0
	stages := map[int]bool{}
	for i := range m.b.steps {
		r := &m.b.steps[i]
		l := r.label()
		label = max(label, ansi.StringWidth(l))
		// "[2/6] RUN" is the least a row says
		num, rest, _ := strings.Cut(l, " ")
		word, _, _ := strings.Cut(rest, " ")
		head = max(head, ansi.StringWidth(num)+1+ansi.StringWidth(word)+1)
		right = max(right, ansi.StringWidth(wide.stepRight(i, r)))
		rightMin = max(rightMin, ansi.StringWidth(narrow.stepRight(i, r)))
		stages[r.info.Stage] = true
	}
	// indent (3 with a kept shell) + icon + " " + label + "  " + right + " "
	n.steps = 2 + 3 + 1 + 1 + label + 2 + right + 1
	n.stMin = 2 + 3 + 1 + 1 + head + 2 + rightMin + 1
	n.rows = max(n.rows, m.b.rows()+len(stages)+1) // +1: the selected step's detail line
	return n
}

// splitWidth divides w columns between the Dockerfile and the Steps pane:
// each gets what its content needs when both fit (the rest is shared);
// otherwise the Dockerfile gets its lines whole as far as the Steps pane
// keeps its figures and instruction keyword, and the Steps pane the rest.
func splitWidth(w int, n paneNeeds) int {
	if n.df+n.steps <= w {
		return n.df + (w-n.df-n.steps)/2
	}
	df := min(n.df, w-min(n.stMin, w/2))
	return clamp(df, min(n.dfMin, w/2), w-20)
}

// splitHeight is the upper panes' height out of avail rows: what their
// content needs, at least 5, and at most 9/20 of the room, so the lower pane
// (logs, files) gets the rest.
func splitHeight(avail int, n paneNeeds) int {
	return clamp(n.rows+2, 5, max(5, avail*9/20))
}

// failNote is a failed step's note in the Dockerfile and Steps panes: what
// went wrong (the exit code and the last line the command printed), not the
// command again; a failure without an exit code (COPY, a pull) keeps its
// error.
func failNote(r *stepRec) string {
	if r.exitCode == 0 {
		return r.err
	}
	last := ""
	for i := len(r.last) - 1; i >= 0 && last == ""; i-- {
		last = strings.TrimSpace(r.last[i])
	}
	if last == "" {
		return "exit code " + itoa(r.exitCode) + " (no output)"
	}
	return "exit code " + itoa(r.exitCode) + ": " + last
}
