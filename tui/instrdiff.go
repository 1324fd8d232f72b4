package tui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// instructionDiff shows a changed instruction as two sides, "- old" and
// "+ new", each wrapped at w cells (continuations indented two), the words
// that differ between them marked in reverse video (and red / green): the
// -/+ prefixes read without colour, the marks show what changed.
func instructionDiff(st *styles, old, new string, w int) []string {
	a, b := strings.Fields(oneLine(old)), strings.Fields(oneLine(new))
	ops := lineEdits(a, b)
	markA, markB := make([]bool, len(a)), make([]bool, len(b))
	i, j := 0, 0
	for _, op := range ops {
		switch op {
		case '=':
			i++
			j++
		case '-':
			markA[i] = true
			i++
		case '+':
			markB[j] = true
			j++
		}
	}
	out := wordLines(st.deleted, "- ", a, markA, w)
	return append(out, wordLines(st.added, "+ ", b, markB, w)...)
}

// wordLines lays words out after prefix in lines of at most w cells, the
// marked ones in s reversed, the others plain.
func wordLines(s lipgloss.Style, prefix string, words []string, marked []bool, w int) []string {
	w = max(w, 4)
	mark := s.Reverse(true)
	var out []string
	var line strings.Builder
	line.WriteString(s.Render(prefix))
	lw := len(prefix)
	for k, word := range words {
		// a word wider than a line goes in pieces
		for _, piece := range strings.Split(ansi.Hardwrap(word, w-2, true), "\n") {
			pw := ansi.StringWidth(piece)
			if lw > 2 && lw+1+pw > w {
				out = append(out, line.String())
				line.Reset()
				line.WriteString("  ")
				lw = 2
			} else if lw > 2 {
				line.WriteByte(' ')
				lw++
			}
			if marked[k] {
				line.WriteString(mark.Render(piece))
			} else {
				line.WriteString(piece)
			}
			lw += pw
		}
	}
	return append(out, line.String())
}
