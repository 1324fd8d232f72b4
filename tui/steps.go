package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// StepsKeyMap are the keys of the step tree.
type StepsKeyMap struct {
	NavKeyMap
	Open   key.Binding
	Follow key.Binding
}

// DefaultStepsKeyMap returns the step tree keys.
func DefaultStepsKeyMap() StepsKeyMap {
	return StepsKeyMap{
		NavKeyMap: DefaultNavKeyMap(),
		Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "inspect")),
		Follow:    key.NewBinding(key.WithKeys("."), key.WithHelp(".", "follow build")),
	}
}

// StepsModel is the live tree of stages and steps.
type StepsModel struct {
	c       *common
	b       *buildState
	keys    StepsKeyMap
	w, h    int
	sel     int  // selected step, -1 before the plan
	follow  bool // the selection follows the running step
	off     int
	focused bool
}

func newSteps(c *common, b *buildState) StepsModel {
	return StepsModel{c: c, b: b, keys: DefaultStepsKeyMap(), sel: -1, follow: true}
}

// SetSize sets the content size.
func (m *StepsModel) SetSize(w, h int) { m.w, m.h = w, h; m.off = m.scroll() }

// SetFocus marks the pane focused.
func (m *StepsModel) SetFocus(f bool) { m.focused = f }

// Selected is the selected step, or -1.
func (m StepsModel) Selected() int { return m.sel }

// Select selects step i (from the Dockerfile pane or a click); it stops
// following the build.
func (m *StepsModel) Select(i int) {
	if i >= 0 && i < len(m.b.steps) {
		m.sel = i
		m.follow = false
		m.off = m.scroll()
	}
}

// Track is called after events: a following selection moves to the step the
// build is on.
func (m *StepsModel) Track() {
	if len(m.b.steps) == 0 {
		m.sel = -1
		return
	}
	if m.sel < 0 {
		m.sel = 0
	}
	if m.follow {
		switch {
		case m.b.running >= 0:
			m.sel = m.b.running
		case m.b.lastStep >= 0:
			m.sel = m.b.lastStep
		}
	}
	m.off = m.scroll()
}

type stepRow struct {
	step   int // -1 for a stage header or a detail line
	stage  int
	detail bool
	owner  int // step a detail line belongs to
}

func (m StepsModel) rows() []stepRow {
	rows := make([]stepRow, 0, len(m.b.steps)+len(m.b.stages)+2)
	stage := -1
	for i := range m.b.steps {
		r := &m.b.steps[i]
		if r.info.Stage != stage {
			stage = r.info.Stage
			rows = append(rows, stepRow{step: -1, stage: stage})
		}
		rows = append(rows, stepRow{step: i, stage: stage})
		if r.status == statusRunning || (i == m.sel && r.status != statusPending) {
			rows = append(rows, stepRow{step: -1, detail: true, owner: i, stage: stage})
		}
	}
	return rows
}

func (m StepsModel) scroll() int {
	rows := m.rows()
	cr, last := 0, 0
	for i, r := range rows {
		if r.step == m.sel && m.sel >= 0 {
			cr, last = i, i
			if i+1 < len(rows) && rows[i+1].detail && rows[i+1].owner == m.sel {
				last = i + 1
			}
			if i > 0 && rows[i-1].step < 0 && !rows[i-1].detail {
				cr = i - 1 // show the stage header of the first step
			}
			break
		}
	}
	off := scrollTo(last, m.off, m.h, len(rows))
	return scrollTo(cr, off, m.h, len(rows))
}

// Update handles keys.
func (m StepsModel) Update(msg tea.Msg) (StepsModel, tea.Cmd) {
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		if cur, ok := navDelta(m.keys.NavKeyMap, msg, m.sel, len(m.b.steps), m.h/2); ok {
			m.Select(cur)
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
func (m *StepsModel) Click(row int) {
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

// Scroll moves the selection by n steps.
func (m *StepsModel) Scroll(n int) {
	if len(m.b.steps) > 0 {
		m.Select(clamp(m.sel+n, 0, len(m.b.steps)-1))
	}
}

// View renders the tree.
func (m StepsModel) View() string {
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
		case r.step < 0:
			lines = append(lines, m.stageRow(r.stage))
		default:
			lines = append(lines, m.stepRow(r.step))
		}
	}
	return strings.Join(lines, "\n")
}

func (m StepsModel) stageRow(stage int) string {
	name := ""
	if stage >= 0 && stage < len(m.b.stages) {
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

// stepRow is "✓ [2/5] RUN apk add --update redis     2.3s  2.1 MB  41 files".
func (m StepsModel) stepRow(i int) string {
	st := &m.c.st
	r := &m.b.steps[i]
	right := m.stepRight(r)
	label := r.label()
	icon := stepIcon(m.c, r)
	sel := i == m.sel
	if sel {
		bg := st.selected
		if !m.focused {
			bg = st.selectedBlur
		}
		return "  " + icon + bg.Render(leftRight(" "+label, right+" ", m.w-3))
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
	return "  " + icon + leftRight(ls.Render(" "+label), st.dim.Render(right+" "), m.w-3)
}

func (m StepsModel) stepRight(r *stepRec) string {
	var parts []string
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
		return strings.Join(parts, "  ")
	}
	switch r.status {
	case statusCached:
		parts = append(parts, "CACHED")
	case statusRunning:
		parts = append(parts, humanDuration(r.elapsed(m.c.now())))
	case statusBuilt, statusFailed:
		parts = append(parts, humanDuration(r.duration))
	}
	if r.status == statusBuilt || r.status == statusCached {
		if r.info.MetadataOnly || (r.diffID == "" && r.files == 0) {
			parts = append(parts, "meta")
		} else {
			parts = append(parts, humanBytes(r.size))
			if m.w >= 60 {
				parts = append(parts, plural(r.files, "file"))
			}
		}
	}
	if r.status == statusFailed && r.exitCode != 0 {
		parts = append(parts, "exit "+itoa(r.exitCode))
	}
	return strings.Join(parts, "  ")
}

// detailRow tells the learner's story of a step in one line: the temporary
// container, the snapshot, the image handed to the next step.
func (m StepsModel) detailRow(i int) string {
	st := &m.c.st
	r := &m.b.steps[i]
	var s string
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
		if i+1 < len(m.b.steps) && m.b.steps[i+1].info.Stage == r.info.Stage {
			s += " → next step"
		}
	case statusFailed:
		s = r.err
	}
	style := st.dim
	if r.status == statusFailed {
		style = st.failed
	}
	return fit("     "+style.Render("↳ "+s), m.w)
}
