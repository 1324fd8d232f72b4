package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/space"
)

// spaceAnalyser is what a Backend offers when it can analyse the image's
// wasted space (snapshot.Backend does); without it the Space tab says so.
type spaceAnalyser interface {
	Space(ctx context.Context, c *space.Collector) (*space.Analysis, error)
}

// spaceDoneMsg is the end of an analysis.
type spaceDoneMsg struct {
	seq int
	a   *space.Analysis
	err error
}

// openWasteMsg asks the root to show a waste's path in the step that
// shipped it (the Files tab of that step).
type openWasteMsg struct {
	step int
	path string
}

type spaceKeyMap struct {
	navKeyMap
	Open key.Binding
}

func (k spaceKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Open}
}

func (k spaceKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{append(k.navKeyMap.bindings(), k.Open)}
}

// spaceItem is one row of the Space tab's list: a waste, or a finding
// (live bytes a rule says the image does not need).
type spaceItem struct {
	bytes    int64
	kind     string
	where    string
	path     string
	files    int
	step     int
	msg, fix string
}

// items are the wastes, then the findings.
func spaceItems(a *space.Analysis) []spaceItem {
	var out []spaceItem
	word := "line " // a build's Dockerfile line
	if a.LinesAre == "history" {
		word = "history " // an inspected image's history entry
	}
	for _, w := range a.Wastes {
		where := "base"
		if w.Line > 0 && !w.Base {
			where = word + itoa(w.Line)
		}
		if w.Kind != space.Duplicate && w.ByLine > 0 {
			where += " → " + itoa(w.ByLine)
		}
		out = append(out, spaceItem{w.Bytes, string(w.Kind), where, w.Path, w.Files, w.Step, w.Message, w.Fix})
	}
	for _, f := range a.Findings {
		out = append(out, spaceItem{f.Bytes, f.Rule, word + itoa(f.Line), f.Path, f.Files, f.Step, f.Message, f.Fix})
	}
	return out
}

// spaceModel is the Space tab: the image's wasted bytes as a stacked bar
// of its layers and a ranked list of what wastes them, each with the
// lines that caused it and the fix.
type spaceModel struct {
	c       *common
	be      Backend
	keys    spaceKeyMap
	w, h    int
	focused bool

	col     *space.Collector
	seq     int
	running bool
	a       *space.Analysis
	items   []spaceItem
	err     string
	cursor  int
	off     int
}

func newSpace(c *common, be Backend) spaceModel {
	return spaceModel{c: c, be: be, col: &space.Collector{},
		keys: spaceKeyMap{navKeyMap: defaultNavKeyMap(), Open: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open in its step"))}}
}

// SetSize sets the content size.
func (m *spaceModel) SetSize(w, h int) { m.w, m.h = w, h }

// SetFocus marks the pane focused.
func (m *spaceModel) SetFocus(f bool) { m.focused = f }

// Observe takes an event: a new plan drops the old analysis, the end of
// a build starts the new one.
func (m *spaceModel) Observe(ev event.Event) tea.Cmd {
	switch e := ev.(type) { // the events as values
	case *event.PlanReady:
		ev = *e
	case *event.BuildDone:
		ev = *e
	case *event.StepDone:
		ev = *e
	case *event.StepCached:
		ev = *e
	}
	m.col.Observe(ev)
	switch e := ev.(type) {
	case event.PlanReady:
		m.seq++
		m.a, m.items, m.err, m.running, m.cursor, m.off = nil, nil, "", false, 0, 0
	case event.BuildDone:
		if e.Error != "" {
			return nil
		}
		an, ok := m.be.(spaceAnalyser)
		if !ok {
			return nil
		}
		m.seq++
		m.running = true
		seq, col := m.seq, m.col
		return func() tea.Msg {
			a, err := an.Space(context.Background(), col)
			return spaceDoneMsg{seq: seq, a: a, err: err}
		}
	}
	return nil
}

// done takes an analysis' result.
func (m *spaceModel) done(msg spaceDoneMsg) {
	if msg.seq != m.seq {
		return
	}
	m.running = false
	m.a = msg.a
	if m.a != nil {
		m.items = spaceItems(m.a)
	}
	if msg.err != nil {
		m.err = msg.err.Error()
	}
}

// Analysis is the current analysis, nil while there is none.
func (m spaceModel) Analysis() *space.Analysis { return m.a }

// headRows is how many rows come before the list.
func (m spaceModel) headRows() int {
	if m.a == nil {
		return 0
	}
	return 5
}

// listRows is how many rows the list has.
func (m spaceModel) listRows() int {
	return max(1, m.h-m.headRows()-1-m.detailRows())
}

func (m spaceModel) detailRows() int {
	if m.h >= 16 {
		return 2
	}
	return 0
}

func (m spaceModel) Update(msg tea.Msg) (spaceModel, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || m.a == nil {
		return m, nil
	}
	n := len(m.items)
	if c, ok := navDelta(m.keys.navKeyMap, k, m.cursor, n, m.listRows()); ok {
		m.cursor = clamp(c, 0, max(0, n-1))
		m.off = scrollTo(m.cursor, m.off, m.listRows(), n)
		return m, nil
	}
	if key.Matches(k, m.keys.Open) {
		return m, m.open()
	}
	return m, nil
}

// open shows the selected waste's path in the step that shipped it.
func (m *spaceModel) open() tea.Cmd {
	if m.cursor >= len(m.items) {
		return nil
	}
	w := m.items[m.cursor]
	if w.step < 0 {
		return nil // a base layer no step shows
	}
	msg := openWasteMsg{step: w.step, path: w.path}
	return func() tea.Msg { return msg }
}

// Click selects a row of the list (a second click opens it).
func (m *spaceModel) Click(row int) tea.Cmd {
	i := m.off + row - m.headRows() - 1
	if m.a == nil || row < m.headRows()+1 || i < 0 || i >= len(m.items) {
		return nil
	}
	if i == m.cursor {
		return m.open()
	}
	m.cursor = i
	return nil
}

// Scroll moves the cursor by n rows.
func (m *spaceModel) Scroll(n int) {
	if m.a == nil {
		return
	}
	m.cursor = clamp(m.cursor+n, 0, max(0, len(m.items)-1))
	m.off = scrollTo(m.cursor, m.off, m.listRows(), len(m.items))
}

// View renders the tab.
func (m spaceModel) View() string {
	st := &m.c.st
	var lines []string
	switch {
	case m.running:
		lines = append(lines, st.running.Render(m.c.spin+" analysing…")+st.dim.Render(" which bytes every layer ships that the image never shows"))
	case m.err != "":
		lines = append(lines, st.failed.Render("space: "+m.err))
	case m.a == nil:
		why := "the analysis starts when the build has finished."
		if _, ok := m.be.(spaceAnalyser); !ok {
			why = "no analysis here: this view has no store to read the layers from."
		}
		lines = append(lines, st.dim.Render(why))
	default:
		lines = m.analysisLines()
	}
	return strings.Join(lines, "\n")
}

func (m spaceModel) analysisLines() []string {
	st := &m.c.st
	a := m.a
	hs := humanBytes
	img := a.Image
	head := st.bold.Render("wasted "+hs(img.Wasted)) + " of " + hs(img.Content) + " content · " +
		st.bold.Render(fmt.Sprintf("%.1f%% efficient", 100*img.Efficiency))
	if img.Compressed > 0 {
		head += st.dim.Render(" · pull " + hs(img.Compressed) + ", ≈" + hs(img.WastedCompressed) + " wasted")
	}
	part := func(name string, t space.Totals) string {
		if t.Layers == 0 {
			return name + " none"
		}
		return fmt.Sprintf("%s %s in %s, %s wasted", name, hs(t.Content), plural(t.Layers, "layer"), hs(t.Wasted))
	}
	sub := st.dim.Render(part("yours:", a.User) + " · " + part("base:", a.BaseImg))
	bar, labels := m.bar()
	legend := st.dim.Render("█ your layers  ▒ base image  ░ wasted: dead, still shipped  │ base|yours")
	lines := []string{fit(head, m.w), fit(sub, m.w), bar, labels, fit(legend, m.w)}
	title := fmt.Sprintf("%d wastes, the most bytes first", len(a.Wastes))
	if len(a.Wastes) == 0 {
		title = "no wasted bytes: no layer ships a file a later one deletes, replaces or stores again"
	}
	if len(a.Findings) > 0 {
		title += fmt.Sprintf("; then %d not needed to run it", len(a.Findings))
	}
	lines = append(lines, st.bold.Render(fit(title, m.w)))
	rows := m.listRows()
	for i := m.off; i < len(m.items) && i < m.off+rows; i++ {
		lines = append(lines, m.row(i))
	}
	for len(lines) < m.headRows()+1+rows {
		lines = append(lines, "")
	}
	if m.detailRows() > 0 && m.cursor < len(m.items) {
		w := m.items[m.cursor]
		lines = append(lines, fit(st.plain.Render(w.msg), m.w), fit(st.dim.Render("fix: "+w.fix), m.w))
	}
	return lines
}

// row is one waste: its bytes, kind, path and the lines.
func (m spaceModel) row(i int) string {
	st := &m.c.st
	w := m.items[i]
	text := hsPad(w.bytes) + "  " + fit(w.kind, 11) + " " + fit(w.where, 15) + " " + w.path
	if w.files > 1 {
		text += " (" + itoa(w.files) + " files)"
	}
	if i == m.cursor {
		s := st.selected
		if !m.focused {
			s = st.selectedBlur
		}
		return s.Render(fit(text, m.w))
	}
	return fit(text, m.w)
}

func hsPad(n int64) string {
	s := humanBytes(n)
	return strings.Repeat(" ", max(0, 8-len(s))) + s
}

// bar is the image as one row: a segment per layer, as wide as its
// content, its wasted part ░; base layers ▒, then │, then the user's █;
// under it the layer numbers where they fit.
func (m spaceModel) bar() (string, string) {
	st := &m.c.st
	a := m.a
	width := max(10, m.w-1)
	var total int64
	base := 0
	for _, l := range a.Layers {
		total += l.Content
		if l.Base {
			base++
		}
	}
	if base > 0 && base < len(a.Layers) {
		width-- // the │ between base and user
	}
	// widths in proportion, every layer with content at least one cell
	ws := make([]int, len(a.Layers))
	used := 0
	for i, l := range a.Layers {
		if total > 0 && l.Content > 0 {
			ws[i] = max(1, int(float64(width)*float64(l.Content)/float64(total)+0.5))
		}
		used += ws[i]
	}
	for used > width { // rounding and minimums: take from the widest
		big := 0
		for i := range ws {
			if ws[i] > ws[big] {
				big = i
			}
		}
		ws[big]--
		used--
	}
	var b, lb strings.Builder
	styles := []lipgloss.Style{st.built, st.cached}
	for i, l := range a.Layers {
		if i == base && base > 0 && base < len(a.Layers) {
			b.WriteString(st.dim.Render("│"))
			lb.WriteString(" ")
		}
		n := ws[i]
		if n == 0 {
			continue
		}
		dead := 0
		if l.Content > 0 {
			dead = int(float64(n)*float64(l.Unavoidable)/float64(l.Content) + 0.5)
			if l.Unavoidable > 0 {
				dead = max(1, dead)
			}
		}
		live := "█"
		s := styles[i%2]
		if l.Base {
			live, s = "▒", st.dim
		}
		b.WriteString(s.Render(strings.Repeat(live, n-dead)))
		b.WriteString(st.deleted.Render(strings.Repeat("░", dead)))
		num := itoa(i + 1)
		if len(num) <= n {
			lb.WriteString(num + strings.Repeat(" ", n-len(num)))
		} else {
			lb.WriteString(strings.Repeat(" ", n))
		}
	}
	return fit(b.String(), m.w), fit(st.dim.Render(lb.String()), m.w)
}
