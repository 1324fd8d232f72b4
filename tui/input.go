package tui

import (
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// lineInput is a one-line text entry for searches: typed text, backspace,
// enter to accept, esc to cancel. It is deliberately tiny (no blinking
// cursor) so views stay deterministic.
type lineInput struct {
	active bool
	prompt string
	value  string
}

type inputResult int

const (
	inputNone     inputResult = iota
	inputChanged              // the text changed
	inputAccepted             // enter
	inputCanceled             // esc
)

func (in *lineInput) start(prompt, value string) {
	in.active, in.prompt, in.value = true, prompt, value
}

func (in *lineInput) update(msg tea.KeyPressMsg) inputResult {
	switch msg.String() {
	case "enter":
		in.active = false
		return inputAccepted
	case "esc", "ctrl+c":
		in.active = false
		return inputCanceled
	case "backspace", "ctrl+h":
		if in.value != "" {
			_, n := utf8.DecodeLastRuneInString(in.value)
			in.value = in.value[:len(in.value)-n]
			return inputChanged
		}
		return inputNone
	case "ctrl+u":
		in.value = ""
		return inputChanged
	}
	if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
		in.value += sanitize(msg.Text)
		return inputChanged
	}
	return inputNone
}

func (in *lineInput) view(st *styles, w int) string {
	return fit(st.helpKey.Render(in.prompt)+in.value+st.cursorLine.Render(" "), w)
}

// matcher does smart-case substring search: a query without upper-case
// letters matches case-insensitively.
type matcher struct {
	q    string
	fold bool
}

func newMatcher(q string) matcher {
	fold := strings.ToLower(q) == q
	return matcher{q: q, fold: fold}
}

func (m matcher) match(s string) bool {
	if m.q == "" {
		return false
	}
	if m.fold {
		return containsFold(s, m.q)
	}
	return strings.Contains(s, m.q)
}

// containsFold reports whether lower-case q is in s, ignoring ASCII case
// without allocating.
func containsFold(s, q string) bool {
	if len(q) > len(s) {
		return false
	}
	for i := 0; i+len(q) <= len(s); i++ {
		ok := true
		for j := 0; j < len(q); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != q[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// highlightMatches styles every occurrence of the query in plain text s.
func highlightMatches(st *styles, s string, m matcher) string {
	if m.q == "" || !m.match(s) {
		return s
	}
	hay := s
	if m.fold {
		hay = strings.ToLower(s)
	}
	if len(hay) != len(s) { // lower-casing changed byte lengths; do not risk it
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(hay, m.q)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(st.match.Render(s[i : i+len(m.q)]))
		s, hay = s[i+len(m.q):], hay[i+len(m.q):]
	}
}
