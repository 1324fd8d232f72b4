package tui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/charmbracelet/x/ansi"
	"github.com/strata-build/strata/build/event"
)

// stepsKeyMap are the keys of the step tree.
type stepsKeyMap struct {
	navKeyMap
	Open   key.Binding
	Follow key.Binding
}

// defaultStepsKeyMap returns the step tree keys.
func defaultStepsKeyMap() stepsKeyMap {
	return stepsKeyMap{
		navKeyMap: defaultNavKeyMap(),
		Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "inspect")),
		Follow:    key.NewBinding(key.WithKeys("."), key.WithHelp(".", "follow build")),
	}
}

// stepsModel is the live tree of stages and steps.
type stepsModel struct {
	c       *common
	b       *buildState
	keys    stepsKeyMap
	w, h    int
	sel     int  // selected step, -1 before the plan
	follow  bool // the selection follows the running step
	off     int
	focused bool
	// marked is the snapshot marked for a comparison (m), shown ◆.
	marked *event.Snapshot
}

func newSteps(c *common, b *buildState) stepsModel {
	return stepsModel{c: c, b: b, keys: defaultStepsKeyMap(), sel: -1, follow: true}
}

// SetSize sets the content size.
func (m *stepsModel) SetSize(w, h int) { m.w, m.h = w, h; m.off = m.scroll() }

// SetFocus marks the pane focused.
func (m *stepsModel) SetFocus(f bool) { m.focused = f }

// Selected is the selected step, or -1.
func (m stepsModel) Selected() int { return m.sel }

// Select selects step i (from the Dockerfile pane or a click); it stops
// following the build.
func (m *stepsModel) Select(i int) {
	if i >= 0 && i < m.b.rows() {
		m.sel = i
		m.follow = false
		m.off = m.scroll()
	}
}

// Track is called after events: a following selection moves to the step the
// build is on.
func (m *stepsModel) Track() {
	if len(m.b.steps) == 0 {
		m.sel = -1
		return
	}
	if m.sel < 0 {
		m.sel = 0
	}
	if m.sel >= m.b.rows() {
		m.sel = m.b.rows() - 1
	}
	if m.follow {
		switch {
		case m.b.paused != nil:
			m.sel = m.b.paused.Step
		case m.b.running >= 0:
			m.sel = m.b.running
		case m.b.lastStep >= 0:
			m.sel = m.b.lastStep
		}
	}
	m.off = m.scroll()
}

type stepRow struct {
	step    int // -1 for a stage header or a detail line
	stage   int
	detail  bool
	owner   int  // step a detail line belongs to
	skipped bool // a stage header of a stage the build leaves out
}

func (m stepsModel) rows() []stepRow {
	rows := make([]stepRow, 0, m.b.rows()+len(m.b.stages)+2)
	stage := -1
	// skipped stages sit where the Dockerfile has them: before the first
	// built stage that comes after them, the rest at the end
	skipped := m.b.skippedStages()
	for _, i := range m.b.order() {
		r := m.b.step(i)
		if r.kind == recStep && r.info.Stage != stage {
			stage = r.info.Stage
			for len(skipped) > 0 && skipped[0].Stage < stage {
				rows = append(rows, stepRow{step: -1, stage: skipped[0].Stage, skipped: true})
				skipped = skipped[1:]
			}
			rows = append(rows, stepRow{step: -1, stage: stage})
		}
		rows = append(rows, stepRow{step: i, stage: stage})
		paused := m.b.paused != nil && m.b.paused.Step == i
		if r.status == statusRunning || paused || (i == m.sel && r.status != statusPending) {
			rows = append(rows, stepRow{step: -1, detail: true, owner: i, stage: stage})
		}
	}
	for _, sk := range skipped {
		rows = append(rows, stepRow{step: -1, stage: sk.Stage, skipped: true})
	}
	return rows
}

func (m stepsModel) scroll() int {
	rows := m.rows()
	cr, last := 0, 0
	for i, r := range rows {
		if r.step == m.sel && m.sel >= 0 {
			cr, last = i, i
			if i+1 < len(rows) && rows[i+1].detail && rows[i+1].owner == m.sel {
				last = i + 1
			}
			if i > 0 && rows[i-1].step < 0 && !rows[i-1].detail && !rows[i-1].skipped {
				cr = i - 1 // show the stage header of the first step
			}
			// and the skipped stages' rows right after it, when there is
			// room: they cannot be selected, so nothing else shows them
			for last+1 < len(rows) && (rows[last+1].detail || rows[last+1].skipped) {
				last++
			}
			break
		}
	}
	off := scrollTo(last, m.off, m.h, len(rows))
	return scrollTo(cr, off, m.h, len(rows))
}

// Update handles keys.
func (m stepsModel) Update(msg tea.Msg) (stepsModel, tea.Cmd) {
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		order := m.b.order()
		if cur, ok := navDelta(m.keys.navKeyMap, msg, indexOf(order, m.sel), len(order), m.h/2); ok {
			if cur >= 0 && cur < len(order) {
				m.Select(order[cur])
			}
			return m, nil
		}
		switch {
		case key.Matches(msg, m.keys.Open):
			if m.sel >= 0 {
				s := m.sel
				return m, func() tea.Msg { return openStepMsg{step: s} }
			}
		case key.Matches(msg, m.keys.Follow):
			m.follow = true
			m.Track()
		}
	}
	return m, nil
}

// Click selects the step on the clicked row.
func (m *stepsModel) Click(row int) {
	rows := m.rows()
	if i := m.off + row; i >= 0 && i < len(rows) {
		s := rows[i].step
		if rows[i].detail {
			s = rows[i].owner
		}
		if s >= 0 {
			m.Select(s)
		}
	}
}

// Scroll moves the selection by n rows.
func (m *stepsModel) Scroll(n int) {
	if order := m.b.order(); len(order) > 0 {
		m.Select(order[clamp(indexOf(order, m.sel)+n, 0, len(order)-1)])
	}
}

// indexOf is the position of v in s, or 0.
func indexOf(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return 0
}

// View renders the tree.
func (m stepsModel) View() string {
	st := &m.c.st
	if len(m.b.steps) == 0 {
		msg := "waiting for the plan…"
		if m.b.done != nil {
			msg = "no steps"
		}
		return st.dim.Render(fit(msg, m.w))
	}
	rows := m.rows()
	lines := make([]string, 0, m.h)
	for i := m.off; i < len(rows) && len(lines) < m.h; i++ {
		r := rows[i]
		switch {
		case r.detail:
			lines = append(lines, m.detailRow(r.owner))
		case r.skipped:
			lines = append(lines, m.skippedRow(r.stage))
		case r.step < 0:
			lines = append(lines, m.stageRow(r.stage))
		default:
			lines = append(lines, m.stepRow(r.step))
		}
	}
	return strings.Join(lines, "\n")
}

func (m stepsModel) stageRow(stage int) string {
	name := ""
	// Stages names the built stages in build order, not by Dockerfile
	// index (skipped stages leave gaps): only an inspected image's one
	// stage is read from it; a build's stage is named by its steps
	if m.b.inspecting() && stage >= 0 && stage < len(m.b.stages) {
		name = m.b.stages[stage]
	}
	for i := range m.b.steps {
		if m.b.steps[i].info.Stage == stage && m.b.steps[i].info.StageName != "" {
			name = m.b.steps[i].info.StageName
			break
		}
	}
	t := "stage " + itoa(stage)
	if m.b.inspecting() {
		t, name = "image "+name, ""
	}
	if name != "" && name != itoa(stage) {
		t += " · " + name
	}
	return m.c.st.bold.Render(fit("▾ "+t, m.w))
}

// skippedRow is a stage the build leaves out: "– stage 3 · test  skipped:
// not needed for --target app" ("– test skipped: …" when narrow).
func (m stepsModel) skippedRow(stage int) string {
	for _, sk := range m.b.skippedStages() {
		if sk.Stage != stage {
			continue
		}
		t := "– stage " + itoa(stage)
		if sk.Name != "" && sk.Name != "stage-"+itoa(stage) {
			t += " · " + sk.Name
		}
		row := t + "  skipped: " + sk.Reason
		if ansi.StringWidth(row) > m.w { // narrow: the name and the reason
			row = "– " + sk.Name + " skipped: " + sk.Reason
		}
		return m.c.st.dim.Render(fit(row, m.w))
	}
	return ""
}

// stepRow is "✓ [2/5] RUN apk add --update redis     2.3s  2.1 MB  41 files".
func (m stepsModel) stepRow(i int) string {
	st := &m.c.st
	r := m.b.step(i)
	right := m.stepRight(i, r)
	label := r.label()
	icon := m.icon(i, r)
	indent, iw := "  ", 2
	if r.kind == recShell {
		indent, iw = "   ", 3
	}
	if m.marked != nil && r.snap == m.marked {
		indent = indent[:iw-1] + m.c.st.changed.Render("◆")
	}
	sel := i == m.sel
	if sel {
		bg := st.selected
		if !m.focused {
			bg = st.selectedBlur
		}
		return indent + icon + bg.Render(leftRight(" "+label, right+" ", m.w-1-iw))
	}
	ls := st.plain
	switch r.status {
	case statusPending:
		ls = st.pending
	case statusCached:
		ls = st.cached
	case statusFailed:
		ls = st.failed
	case statusRunning:
		ls = st.running
	}
	return indent + icon + leftRight(ls.Render(" "+label), m.right(i, r, true)+" ", m.w-1-iw)
}

// icon is a row's state glyph: a step paused before shows ▶.
func (m stepsModel) icon(i int, r *stepRec) string {
	if p := m.b.paused; p != nil && p.Step == i {
		return m.c.st.warning.Render("▶")
	}
	if r.kind == recShell {
		return m.c.st.built.Render("$")
	}
	return stepIcon(m.c, r)
}

// stepRight is a row's figures, plain (for a selected row, and to measure).
func (m stepsModel) stepRight(i int, r *stepRec) string { return m.right(i, r, false) }

// right is a row's figures; styled, dim with a regression in red and an
// improvement in green.
func (m stepsModel) right(i int, r *stepRec, styled bool) string {
	dim := func(s string) string { return s }
	if styled {
		dim = func(s string) string { return m.c.st.dim.Render(s) }
	}
	cols, ok := m.cols(i, r, styled)
	if !ok || len(cols) == 0 { // a pending step has no figures to align
		return dim(strings.Join(cols, "  "))
	}
	// Fixed-width columns (time or CACHED, size or meta, files), right
	// aligned and as wide on every row, so the figures line up from row
	// to row.
	ws := m.colWidths()
	out := make([]string, 0, len(ws))
	for c, w := range ws {
		if w == 0 {
			continue
		}
		v := ""
		if c < len(cols) {
			v = cols[c]
		}
		out = append(out, dim(strings.Repeat(" ", max(0, w-ansi.StringWidth(v))))+v)
	}
	return strings.Join(out, dim("  "))
}

// narrow is a Steps pane too small for long figure words: "base 2" for
// "base 2 layers", "empty" for "no changes", so the labels keep their room.
func (m stepsModel) narrow() bool { return m.w < 48 }

// colWidths is the width of each figure column over every step row: 0
// for a column no row uses, else at least 6, 8 and 9 cells.
func (m stepsModel) colWidths() [3]int {
	var ws [3]int
	for i := range m.b.steps {
		cols, ok := m.cols(i, &m.b.steps[i], false)
		if !ok {
			continue
		}
		least := []int{6, 8, 9}
		if m.narrow() {
			least = []int{4, 6, 9}
		}
		for c, v := range cols[:min(3, len(cols))] {
			ws[c] = max(ws[c], least[c], ansi.StringWidth(v))
		}
	}
	return ws
}

// cols is a row's figures (styled: a change red when worse, green when
// better); ok is false for a row without the columns (an x run, a kept
// shell, an inspected image).
func (m stepsModel) cols(i int, r *stepRec, styled bool) (parts []string, ok bool) {
	if m.b.inspecting() { // an image records no times: sizes only
		switch {
		case r.status == statusPending:
		case r.diffID == "":
			parts = append(parts, "no layer")
		default:
			parts = append(parts, humanBytes(r.size))
			if m.w >= 60 {
				parts = append(parts, plural(r.files, "file"))
			}
		}
		return parts, false
	}
	switch r.kind {
	case recRun:
		switch r.status {
		case statusRunning:
			return []string{humanDuration(runElapsed(r, m.c.now()))}, false
		case statusFailed:
			s := "error"
			if r.exitCode != 0 {
				s = "exit " + itoa(r.exitCode)
			}
			if r.stopped {
				s = "stopped · " + s
				if r.exitCode == 0 {
					s = "stopped"
				}
			}
			return []string{s}, false
		}
		return []string{"exit 0  " + humanDuration(r.duration)}, false
	case recShell:
		return []string{humanBytes(r.size) + "  " + plural(r.files, "file")}, false
	}
	// with the previous build's figures when they moved: the value and
	// its change ("3.5s +1.2s") if there is room, else the change alone
	// ("+1.2s"), red when it is worse (slower, bigger), green when better
	p := m.b.prevStep(i)
	wide := m.w >= 56
	mark := func(v, d string) string {
		if d == "" {
			return v
		}
		if styled {
			d = colourDelta(&m.c.st, d)
		}
		if wide {
			return v + " " + d
		}
		return d
	}
	switch r.status {
	case statusCached:
		parts = append(parts, "CACHED")
	case statusRunning:
		parts = append(parts, humanDuration(r.elapsed(m.c.now())))
	case statusBuilt, statusFailed:
		parts = append(parts, mark(humanDuration(r.duration), timeDelta(p, r)))
	default:
		parts = append(parts, "")
	}
	if r.status == statusBuilt || r.status == statusCached {
		switch {
		case r.info.Kind == "FROM" && r.diffID == "" && r.size == 0:
			n := 0
			if r.snap != nil {
				n = len(r.snap.Layers)
			}
			if m.narrow() {
				parts = append(parts, "base "+itoa(n)) // the label needs the room
			} else {
				parts = append(parts, "base "+plural(n, "layer"))
			}
		case r.info.MetadataOnly:
			parts = append(parts, "meta")
		case r.unread && r.files == 0 && r.size == 0:
			parts = append(parts, "remote") // not known until its layer is read
		case r.files == 0:
			if m.narrow() {
				parts = append(parts, "empty")
			} else {
				parts = append(parts, "no changes")
			}
		default:
			d := sizeDelta(p, r)
			parts = append(parts, mark(humanBytes(r.size), d))
			if m.w >= 60 && (d == "" || m.w >= 70) {
				parts = append(parts, plural(r.files, "file"))
			}
		}
	}
	if r.status == statusFailed && r.exitCode != 0 {
		parts = append(parts, "exit "+itoa(r.exitCode))
	}
	if len(parts) == 1 && parts[0] == "" {
		parts = nil
	}
	return parts, true
}

// timeDelta is "+1.2s" when a step built in both builds took a
// noticeably different time (a tenth of a second or more).
func timeDelta(p, r *stepRec) string {
	if p == nil || p.status != statusBuilt || r.status != statusBuilt {
		return ""
	}
	d := r.duration - p.duration
	if d < 100*time.Millisecond && d > -100*time.Millisecond {
		return ""
	}
	return signedDuration(d)
}

// sizeDelta is "+340.0 kB" when a step's layer size changed.
func sizeDelta(p, r *stepRec) string {
	if p == nil || (p.status != statusBuilt && p.status != statusCached) || p.size == r.size {
		return ""
	}
	return signedBytes(r.size - p.size)
}

// detailRow tells the learner's story of a step in one line: the temporary
// container, the snapshot, the image handed to the next step.
func (m stepsModel) detailRow(i int) string {
	st := &m.c.st
	r := m.b.step(i)
	var s string
	switch {
	case m.b.paused != nil && m.b.paused.Step == i:
		s = "paused before this step"
		if m.b.paused.Why == "breakpoint" {
			s = "breakpoint on line " + itoa(m.b.paused.Line) + ": paused before this step"
		}
		s += " · n runs it · c continues · s shell"
		return fit("     "+st.warning.Render("↳ "+s), m.w)
	case r.kind == recShell:
		s = "debug shell on " + r.note
		if r.diffID != "" {
			s += " → layer " + shortID(r.diffID, 12)
		}
		return fit("     "+st.dim.Render("↳ "+s), m.w)
	case r.kind == recRun && r.status != statusRunning:
		s = "the image's primary command ran in a temporary container; exit " + itoa(r.exitCode)
		switch {
		case r.stopped:
			s = "the image's primary command ran in a temporary container; " + r.err
		case r.err != "" && r.exitCode == 0:
			s = r.err
		}
		return fit("     "+st.dim.Render("↳ "+s), m.w)
	case r.status == statusBuilt && m.b.builds > 1 && r.reason != "":
		s = "rebuilt: " + r.reason
		return fit("     "+st.dim.Render("↳ "+s), m.w)
	}
	switch r.status {
	case statusRunning:
		switch {
		case r.container != "":
			s = "temporary container " + shortID(r.container, 12) + " running"
		case r.progress != nil && r.progress.Total > 0:
			s = r.progress.What + " " + humanBytes(r.progress.Done) + "/" + humanBytes(r.progress.Total)
		default:
			s = "running"
		}
		if r.lastL != "" {
			s += ": " + r.lastL
		}
	case statusCached:
		s = "from cache → image " + shortID(r.imageID, 12)
	case statusBuilt:
		if m.b.inspecting() {
			s = inspectDetail(r)
			break
		}
		if r.diffID != "" {
			s = "snapshot → layer " + shortID(r.diffID, 12) + " → image " + shortID(r.imageID, 12)
		} else {
			s = "config only → image " + shortID(r.imageID, 12)
		}
		if n := m.b.planStep(i + 1); n != nil && n.info.Stage == r.info.Stage {
			s += " → next step"
		}
	case statusFailed:
		s = failNote(r)
	}
	style := st.dim
	if r.status == statusFailed {
		style = st.failed
	}
	return fit("     "+style.Render("↳ "+s), m.w)
}
