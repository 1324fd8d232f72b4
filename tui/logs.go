package tui

import (
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// logsKeyMap are the keys of the log pane.
type logsKeyMap struct {
	navKeyMap
	Search key.Binding
	Next   key.Binding
	Prev   key.Binding
	Follow key.Binding
}

// defaultLogsKeyMap returns the log pane keys.
func defaultLogsKeyMap() logsKeyMap {
	return logsKeyMap{
		navKeyMap: defaultNavKeyMap(),
		Search:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Next:      key.NewBinding(key.WithKeys("n"), key.WithHelp("n/N", "next/prev match")),
		Prev:      key.NewBinding(key.WithKeys("N")),
		Follow:    key.NewBinding(key.WithKeys("f", "F"), key.WithHelp("f", "follow")),
	}
}

// logWindowMin is the smallest window of a finished step's log kept in
// memory; the window is 3× the pane height when that is larger.
const logWindowMin = 300

// searchChunk is how many lines a search reads from the backend at a time.
const searchChunk = 8192

// logsModel shows one step's output: live while it runs, the full log from
// the backend once it is done. Only a window of lines is ever in memory.
type logsModel struct {
	c       *common
	b       *buildState
	be      Backend
	keys    logsKeyMap
	w, h    int
	focused bool

	step   int
	beLen  int // lines the backend has for a finished step
	off    int // first line shown
	follow bool

	// the window of lines read from the backend
	winFrom  int
	win      []string
	winStep  int
	pending  bool
	seq      int
	fetchErr string

	input  lineInput
	query  string
	match  int // line of the current match, -1 when none
	status string
}

func newLogs(c *common, b *buildState, be Backend) logsModel {
	return logsModel{c: c, b: b, be: be, keys: defaultLogsKeyMap(), step: -1, follow: true, match: -1, winStep: -1}
}

type logChunkMsg struct {
	seq, step, from, to int
	lines               []string
	err                 error
}

type logSearchMsg struct {
	seq, step, line int
	from, dir       int // where the search started, and its direction
	query           string
	err             error
}

// SetSize sets the content size.
func (m *logsModel) SetSize(w, h int) { m.w, m.h = w, h; m.clampOff() }

// SetFocus marks the pane focused.
func (m *logsModel) SetFocus(f bool) { m.focused = f }

// Capturing is true while the search input takes every key.
func (m logsModel) Capturing() bool { return m.input.active }

func (m logsModel) body() int { return max(1, m.h-1) } // one header row

// SetStep shows step i's log.
func (m *logsModel) SetStep(i int) tea.Cmd {
	if i == m.step {
		return nil
	}
	m.step, m.match, m.status, m.fetchErr = i, -1, "", ""
	m.win, m.winFrom, m.winStep, m.pending = nil, 0, -1, false
	m.seq++
	m.refreshLen()
	if m.follow {
		m.off = m.total() - m.body()
	}
	m.clampOff()
	return m.ensure()
}

// Refresh is called when the step's state or log changed.
func (m *logsModel) Refresh() tea.Cmd {
	if r := m.b.step(m.step); r != nil && r.status != statusRunning {
		m.refreshLen()
	}
	if m.follow {
		m.off = m.total() - m.body()
	}
	m.clampOff()
	return m.ensure()
}

// pseudo is true when the shown row is not a plan step: its whole log is
// in memory, the backend has none.
func (m logsModel) pseudo() bool {
	r := m.b.step(m.step)
	return r != nil && r.kind != recStep
}

func (m *logsModel) refreshLen() {
	m.beLen = 0
	if m.be != nil && m.step >= 0 && !m.pseudo() {
		m.beLen = m.be.LogLen(m.step)
	}
}

func (m logsModel) total() int {
	r := m.b.step(m.step)
	if r == nil {
		return 0
	}
	if r.status == statusRunning {
		return r.logN
	}
	return max(r.logN, m.beLen+len(r.notes))
}

// notes is a copy of the step's notes, for a Cmd.
func (m logsModel) notes() []logNote {
	if r := m.b.step(m.step); r != nil {
		return append([]logNote(nil), r.notes...)
	}
	return nil
}

// notesBefore counts the notes at lines before i.
func notesBefore(notes []logNote, i int) int {
	return sort.Search(len(notes), func(k int) bool { return notes[k].at >= i })
}

// fetchLines returns lines [from,to) of a step's log as the stream showed
// them: the log file's lines with the notes (which the file lacks) put
// back at their place. It may return fewer lines when the file is behind.
func fetchLines(be Backend, step, from, to int, notes []logNote) ([]string, error) {
	fa, fb := from-notesBefore(notes, from), to-notesBefore(notes, to)
	var file []string
	if be != nil && fb > fa {
		var err error
		if file, err = be.LogLines(step, fa, fb); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, to-from)
	k, n := 0, notesBefore(notes, from)
	for i := from; i < to; i++ {
		if n < len(notes) && notes[n].at == i {
			out = append(out, notes[n].text)
			n++
			continue
		}
		if k >= len(file) {
			break
		}
		out = append(out, file[k])
		k++
	}
	return out, nil
}

func (m *logsModel) clampOff() {
	m.off = clamp(m.off, 0, max(0, m.total()-m.body()))
}

// line returns line i from the live tail or the window.
func (m logsModel) line(i int) (string, bool) {
	if r := m.b.step(m.step); r != nil {
		if s, ok := r.tailLine(i); ok {
			return s, true
		}
	}
	if m.winStep == m.step && i >= m.winFrom && i < m.winFrom+len(m.win) {
		return m.win[i-m.winFrom], true
	}
	return "", false
}

// ensure asks the backend for the window around the view when lines are
// missing; at most one request is in flight.
func (m *logsModel) ensure() tea.Cmd {
	if m.be == nil || m.step < 0 || m.pending || m.pseudo() {
		return nil
	}
	total, body := m.total(), m.body()
	end := min(total, m.off+body)
	missing := false
	for i := m.off; i < end; i++ {
		if _, ok := m.line(i); !ok {
			missing = true
			break
		}
	}
	if !missing {
		return nil
	}
	size := max(3*body, logWindowMin)
	from := clamp(m.off-(size-body)/2, 0, max(0, total-size))
	to := min(total, from+size)
	m.pending = true
	m.seq++
	be, step, seq, notes := m.be, m.step, m.seq, m.notes()
	return func() tea.Msg {
		lines, err := fetchLines(be, step, from, to, notes)
		return logChunkMsg{seq: seq, step: step, from: from, to: to, lines: lines, err: err}
	}
}

func (m *logsModel) gotChunk(msg logChunkMsg) tea.Cmd {
	if msg.seq != m.seq || msg.step != m.step {
		return nil
	}
	m.pending = false
	if msg.err != nil {
		m.fetchErr = msg.err.Error()
		return nil
	}
	m.fetchErr = ""
	for i := range msg.lines {
		msg.lines[i] = sanitize(msg.lines[i])
	}
	m.win, m.winFrom, m.winStep = msg.lines, msg.from, msg.step
	if len(msg.lines) < msg.to-msg.from {
		// the backend is behind the live stream: wait for the next
		// refresh instead of asking again at once
		return nil
	}
	return m.ensure() // the view may have moved while we waited
}

// Update handles keys and loaded data.
func (m logsModel) Update(msg tea.Msg) (logsModel, tea.Cmd) {
	switch msg := msg.(type) {
	case logChunkMsg:
		return m, m.gotChunk(msg)
	case logSearchMsg:
		return m, m.gotSearch(msg)
	case tea.KeyPressMsg:
		if m.input.active {
			switch m.input.update(msg) {
			case inputAccepted:
				m.query = m.input.value
				return m, m.search(m.off, 1)
			case inputCanceled:
			}
			return m, nil
		}
		return m.keyPress(msg)
	}
	return m, nil
}

func (m logsModel) keyPress(msg tea.KeyPressMsg) (logsModel, tea.Cmd) {
	total, body := m.total(), m.body()
	if off, ok := navDelta(m.keys.navKeyMap, msg, m.off, max(1, total-body+1), body); ok {
		m.off = off
		m.follow = key.Matches(msg, m.keys.Bottom)
		if m.follow {
			m.off = total - body
		}
		m.clampOff()
		return m, m.ensure()
	}
	switch {
	case key.Matches(msg, m.keys.Search):
		m.input.start("/", "")
		m.status = ""
	case key.Matches(msg, m.keys.Next):
		return m, m.search(m.from(1), 1)
	case key.Matches(msg, m.keys.Prev):
		return m, m.search(m.from(-1), -1)
	case key.Matches(msg, m.keys.Follow):
		m.follow = !m.follow
		if m.follow {
			m.off = total - body
			m.clampOff()
		}
		return m, m.ensure()
	}
	return m, nil
}

func (m logsModel) from(dir int) int {
	if m.match >= 0 {
		return m.match + dir
	}
	return m.off
}

// Scroll moves the view by n lines.
func (m *logsModel) Scroll(n int) tea.Cmd {
	m.off += n
	m.follow = false
	m.clampOff()
	return m.ensure()
}

// search looks for the query from line `from` in direction dir, through
// the backend in chunks (wrapping once), in a Cmd.
func (m *logsModel) search(from, dir int) tea.Cmd {
	if m.query == "" || m.step < 0 {
		return nil
	}
	m.seq++
	m.status = "searching…"
	r := m.b.step(m.step)
	total := m.total()
	// the live tail, copied: the Cmd must not read the model
	tailFrom := r.logN - len(r.tail)
	var tail []string
	if r.status == statusRunning || r.kind != recStep { // else the backend has every line
		tail = make([]string, 0, len(r.tail))
		for i := tailFrom; i < r.logN; i++ {
			s, _ := r.tailLine(i)
			tail = append(tail, s)
		}
	}
	be, step, seq, q, notes := m.be, m.step, m.seq, m.query, m.notes()
	if total == 0 {
		return func() tea.Msg { return logSearchMsg{seq: seq, step: step, line: -1, query: q} }
	}
	from = ((from % total) + total) % total
	return func() tea.Msg {
		line, err := searchLog(be, step, q, from, dir, total, tail, tailFrom, notes)
		return logSearchMsg{seq: seq, step: step, line: line, from: from, dir: dir, query: q, err: err}
	}
}

// searchLog looks at every line once, from line `from` in direction dir to
// the end, then wrapping round to the other end, as less and vim do. Lines
// are numbered as shown: the live tail, else the log file with the notes
// put back. It returns the first matching line, or -1.
func searchLog(be Backend, step int, q string, from, dir, total int, tail []string, tailFrom int, notes []logNote) (int, error) {
	mt := newMatcher(q)
	hasTail := len(tail) > 0
	get := func(a, b int) ([]string, error) { // lines [a,b), maybe fewer
		if hasTail && a >= tailFrom {
			return tail[min(a-tailFrom, len(tail)):min(b-tailFrom, len(tail))], nil
		}
		return fetchLines(be, step, a, b, notes)
	}
	pos := from // the next line to look at
	for done := 0; done < total; {
		n := min(searchChunk, total-done)
		var a, b int
		if dir > 0 {
			a, b = pos, min(total, pos+n)
			if hasTail && a < tailFrom && b > tailFrom {
				b = tailFrom // a range never straddles the tail
			}
		} else {
			a, b = max(0, pos+1-n), pos+1
			if hasTail && a < tailFrom && b > tailFrom {
				a = tailFrom
			}
		}
		lines, err := get(a, b)
		if err != nil {
			return -1, err
		}
		// lines a reader does not have yet (a file behind the stream) are
		// passed over, not taken for the end of the log
		if dir > 0 {
			for i, s := range lines {
				if mt.match(s) {
					return a + i, nil
				}
			}
			pos = b % total
		} else {
			for i := len(lines) - 1; i >= 0; i-- {
				if mt.match(lines[i]) {
					return a + i, nil
				}
			}
			pos = a - 1
			if pos < 0 {
				pos = total - 1
			}
		}
		done += b - a
	}
	return -1, nil
}

func (m *logsModel) gotSearch(msg logSearchMsg) tea.Cmd {
	if msg.seq != m.seq || msg.step != m.step {
		return nil
	}
	m.pending = false // a search supersedes a window fetch
	switch {
	case msg.err != nil:
		m.status = "search: " + msg.err.Error()
	case msg.line < 0:
		m.status = "no match for " + msg.query
		m.match = -1
	default:
		m.match = msg.line
		m.status = "match at line " + itoa(msg.line+1)
		switch {
		case msg.dir > 0 && msg.line < msg.from:
			m.status += " · wrapped to the top"
		case msg.dir < 0 && msg.line > msg.from:
			m.status += " · wrapped to the bottom"
		}
		m.follow = false
		m.off = msg.line - m.body()/3
		m.clampOff()
	}
	return m.ensure()
}

// Header is the pane's first row.
func (m logsModel) header() string {
	st := &m.c.st
	r := m.b.step(m.step)
	if r == nil {
		return st.dim.Render("no step selected")
	}
	parts := []string{plural(m.total(), "line")}
	if m.follow {
		parts = append(parts, "following")
	}
	if m.status != "" {
		parts = append(parts, m.status)
	}
	return leftRight(st.bold.Render(r.label()), st.dim.Render(" "+strings.Join(parts, " · ")), m.w)
}

// View renders the log.
func (m logsModel) View() string {
	st := &m.c.st
	lines := make([]string, 0, m.h)
	lines = append(lines, m.header())
	body := m.body()
	if m.input.active {
		body--
	}
	r := m.b.step(m.step)
	total := m.total()
	switch {
	case r == nil:
	case total == 0:
		msg := "no output yet"
		switch {
		case m.b.inspecting():
			msg = "no log: an image keeps no build output; the History pane shows what made each layer, the Files tab what it holds"
		case r.info.MetadataOnly:
			msg = "no output: " + string(r.info.Kind) + " only changes the image config, no container runs"
		case r.status == statusCached:
			msg = "no output: the result came from cache, nothing ran"
		case r.status == statusPending && m.b.paused != nil && m.b.paused.Step == m.step:
			msg = "paused before this step: n runs it, c continues, s opens a shell on the state it starts from"
		case r.status == statusPending:
			msg = "not started"
		}
		lines = append(lines, st.dim.Render(msg))
	default:
		nw := len(itoa(total))
		mt := newMatcher(m.query)
		for i := m.off; i < total && len(lines) < body+1; i++ {
			num := itoa(i + 1)
			g := strings.Repeat(" ", nw-len(num)) + num
			s, ok := m.line(i)
			if !ok {
				s = st.dim.Render("…")
			} else {
				s = highlightMatches(st, expandTabs(s), mt)
			}
			gs := st.lineNo
			if i == m.match {
				gs = st.match
			}
			lines = append(lines, fit(gs.Render(g)+" "+s, m.w))
		}
		if m.fetchErr != "" && len(lines) < body+1 {
			lines = append(lines, st.failed.Render("log: "+m.fetchErr))
		}
	}
	for len(lines) < m.h-1 {
		lines = append(lines, "")
	}
	if m.input.active {
		lines = append(lines, m.input.view(st, m.w))
	}
	return strings.Join(lines, "\n")
}
