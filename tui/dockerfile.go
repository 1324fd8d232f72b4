package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// dockerfileKeyMap are the keys of the Dockerfile pane.
type dockerfileKeyMap struct {
	navKeyMap
	Open key.Binding
}

// defaultDockerfileKeyMap returns the Dockerfile pane keys.
func defaultDockerfileKeyMap() dockerfileKeyMap {
	return dockerfileKeyMap{
		navKeyMap: defaultNavKeyMap(),
		Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "inspect step")),
	}
}

// dockerfileModel shows the Dockerfile with line numbers, highlighted
// instructions, each line's step state, warnings and errors on their lines.
type dockerfileModel struct {
	c       *common
	b       *buildState
	keys    dockerfileKeyMap
	w, h    int
	cursor  int // 0-based source line
	off     int // first visible row
	focused bool
}

// newDockerfile returns the Dockerfile pane.
func newDockerfile(c *common, b *buildState) dockerfileModel {
	return dockerfileModel{c: c, b: b, keys: defaultDockerfileKeyMap()}
}

// SetSize sets the content size.
func (m *dockerfileModel) SetSize(w, h int) { m.w, m.h = w, h; m.off = m.scroll(m.off) }

// SetFocus marks the pane focused.
func (m *dockerfileModel) SetFocus(f bool) { m.focused = f }

// Step is the step whose lines hold the cursor, or -1.
func (m dockerfileModel) Step() int { return m.b.stepAtLine(m.cursor + 1) }

// ShowStep moves the cursor to the first line of step i.
func (m *dockerfileModel) ShowStep(i int) {
	if r := m.b.step(i); r != nil && r.info.StartLine > 0 {
		m.cursor = clamp(r.info.StartLine-1, 0, max(0, len(m.b.source)-1))
		m.off = m.scroll(m.off)
	}
}

// ShowLine moves the cursor to a 1-based line (errors without a step).
func (m *dockerfileModel) ShowLine(line int) {
	if line > 0 {
		m.cursor = clamp(line-1, 0, max(0, len(m.b.source)-1))
		m.off = m.scroll(m.off)
	}
}

// dfRow is one screen row: a source line or a note under it.
type dfRow struct {
	line int    // 0-based source line
	note string // "" for the source line itself
	bad  bool   // the note is an error (else a warning)
	skip bool   // the note says why a stage is skipped (dim)
}

func (m dockerfileModel) rows() []dfRow {
	rows := make([]dfRow, 0, len(m.b.source)+4)
	errLine := 0
	if d := m.b.done; d != nil && d.Line > 0 && d.Error != "" {
		errLine = d.Line
		// a failed step already shows its own error on its lines
		if s := m.b.stepAtLine(d.Line); s >= 0 && m.b.steps[s].status == statusFailed && m.b.steps[s].err != "" {
			errLine = 0
		}
	}
	for i := range m.b.source {
		rows = append(rows, dfRow{line: i})
		if sk := m.b.skippedAt(i + 1); sk != nil && sk.StartLine == i+1 {
			rows = append(rows, dfRow{line: i, note: "skipped: " + sk.Reason, skip: true})
		}
		for _, w := range m.b.warnings[i+1] {
			rows = append(rows, dfRow{line: i, note: "! " + w})
		}
		if s := m.b.stepAtLine(i + 1); s >= 0 {
			r := &m.b.steps[s]
			if r.status == statusFailed && r.err != "" && lastLineOf(r) == i+1 {
				rows = append(rows, dfRow{line: i, note: "✗ " + failNote(r), bad: true})
			}
		}
		if errLine == i+1 {
			rows = append(rows, dfRow{line: i, note: "✗ " + m.b.done.Error, bad: true})
		}
	}
	if errLine > len(m.b.source) { // an error past the end still shows
		rows = append(rows, dfRow{line: max(0, len(m.b.source)-1), note: "✗ line " + itoa(errLine) + ": " + m.b.done.Error, bad: true})
	}
	return rows
}

func lastLineOf(r *stepRec) int { return max(r.info.EndLine, r.info.StartLine) }

// scroll keeps the cursor's row visible.
func (m dockerfileModel) scroll(off int) int {
	rows := m.rows()
	cr := 0
	for i, r := range rows {
		if r.line == m.cursor && r.note == "" {
			cr = i
			break
		}
	}
	// keep the notes under the cursor line visible too
	last := cr
	for last+1 < len(rows) && rows[last+1].line == m.cursor {
		last++
	}
	// and the skipped stage right after it, when there is room: nothing
	// else would show it (no step of it can be selected)
	for last+1 < len(rows) && m.b.skippedAt(rows[last+1].line+1) != nil {
		last++
	}
	off = scrollTo(last, off, m.h, len(rows))
	return scrollTo(cr, off, m.h, len(rows))
}

// Update handles keys for the pane.
func (m dockerfileModel) Update(msg tea.Msg) (dockerfileModel, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if cur, ok := navDelta(m.keys.navKeyMap, msg, m.cursor, len(m.b.source), m.h); ok {
			m.cursor = cur
			m.off = m.scroll(m.off)
			return m, nil
		}
		if key.Matches(msg, m.keys.Open) {
			if s := m.Step(); s >= 0 {
				return m, func() tea.Msg { return openStepMsg{step: s} }
			}
		}
	}
	return m, nil
}

// Click puts the cursor on the clicked row.
func (m *dockerfileModel) Click(row int) {
	rows := m.rows()
	if i := m.off + row; i >= 0 && i < len(rows) {
		m.cursor = rows[i].line
	}
}

// Scroll moves the view by n rows.
func (m *dockerfileModel) Scroll(n int) {
	m.cursor = clamp(m.cursor+n, 0, max(0, len(m.b.source)-1))
	m.off = m.scroll(m.off + n)
}

// View renders the pane content (without border), h lines of width w.
func (m dockerfileModel) View() string {
	st := &m.c.st
	if len(m.b.source) == 0 {
		msg := "waiting for the Dockerfile…"
		if m.b.done != nil && m.b.done.Error != "" {
			msg = "✗ " + m.b.done.Error
			return st.failed.Render(fit(msg, m.w))
		}
		return st.dim.Render(fit(msg, m.w))
	}
	rows := m.rows()
	nw := len(itoa(len(m.b.source)))
	sel := m.Step()
	lines := make([]string, 0, m.h)
	for i := m.off; i < len(rows) && len(lines) < m.h; i++ {
		lines = append(lines, m.renderRow(rows[i], nw, sel))
	}
	return strings.Join(lines, "\n")
}

func (m dockerfileModel) renderRow(r dfRow, nw, sel int) string {
	st := &m.c.st
	if r.note != "" {
		pre := strings.Repeat(" ", nw+3) + "╰ "
		s := st.warning
		if r.bad {
			s = st.failed
		}
		if r.skip {
			s = st.dim
		}
		return fit(st.dim.Render(pre)+s.Render(r.note), m.w)
	}
	num := itoa(r.line + 1)
	gutter := st.lineNo.Render(strings.Repeat(" ", nw-len(num)) + num)
	icon := " "
	s := m.b.stepAtLine(r.line + 1)
	if s >= 0 {
		icon = stepIcon(m.c, &m.b.steps[s])
		if p := m.b.paused; p != nil && p.Step == s {
			icon = st.warning.Render("▶")
		}
	}
	// a breakpoint sits between the number and the state
	bp, bpPlain := " ", " "
	if m.b.breaks[r.line+1] {
		bp, bpPlain = st.failed.Render("●"), "●"
	}
	if t := strings.TrimSpace(m.b.source[r.line]); s < 0 && t != "" && !strings.HasPrefix(t, "#") && m.b.skippedAt(r.line+1) != nil {
		icon = st.dim.Render("–")
	}
	if len(m.b.warnings[r.line+1]) > 0 && s < 0 {
		icon = st.warning.Render("!")
	}
	if d := m.b.done; d != nil && d.Line == r.line+1 && d.Error != "" {
		icon = st.failed.Render("✗")
	}
	mark := " "
	if s >= 0 && s == sel {
		mark = st.titleFocus.Render("▌")
	}
	text := highlight(st, m.b.source[r.line], s >= 0 && m.b.steps[s].info.StartLine == r.line+1)
	line := fit(gutter+bp+icon+mark+text, m.w)
	if r.line == m.cursor {
		if m.focused {
			line = st.cursorLine.Render(fit(gutter+bpPlain+icon+mark+ansiPlain(m.b.source[r.line]), m.w))
		} else {
			line = st.selectedBlur.Render(fit(gutter+bpPlain+icon+mark+ansiPlain(m.b.source[r.line]), m.w))
		}
	}
	return line
}

// ansiPlain is s as-is (sanitised at load); named for intent.
func ansiPlain(s string) string { return s }

var instructions = map[string]bool{
	"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "MAINTAINER": true, "EXPOSE": true,
	"ENV": true, "ADD": true, "COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true,
	"WORKDIR": true, "ARG": true, "ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true,
}

// highlight styles a Dockerfile line: comments dim, the instruction keyword
// bold, "AS name" of FROM highlighted.
func highlight(st *styles, line string, isStart bool) string {
	t := strings.TrimLeft(line, " ")
	indent := line[:len(line)-len(t)]
	if strings.HasPrefix(t, "#") {
		return indent + st.comment.Render(t)
	}
	word, rest, _ := strings.Cut(t, " ")
	if isStart || instructions[strings.ToUpper(word)] {
		if rest != "" || strings.HasSuffix(t, " ") {
			rest = " " + rest
		}
		return indent + st.keyword.Render(word) + rest
	}
	return line
}

// stepIcon is the state glyph of a step; cache hits look different from
// built steps.
func stepIcon(c *common, r *stepRec) string {
	st := &c.st
	switch r.status {
	case statusRunning:
		return st.running.Render(c.spin)
	case statusCached:
		return st.cached.Render("≡")
	case statusBuilt:
		return st.built.Render("✓")
	case statusFailed:
		return st.failed.Render("✗")
	}
	return st.pending.Render("·")
}
