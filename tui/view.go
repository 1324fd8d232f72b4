package tui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

func (m *model) helpKeys() help.KeyMap {
	global := m.keys
	// S works whenever there is an image; the help offers it only when
	// the image has not been put anywhere yet.
	global.Save.SetEnabled(m.b.saveOffered())
	// The debugger's keys show when they apply.
	ctl := m.opt.Control != nil && !m.b.inspecting() && m.b.plan != nil
	global.Break.SetEnabled(ctl)
	global.Next.SetEnabled(ctl && m.b.paused != nil)
	global.Continue.SetEnabled(ctl && m.b.paused != nil)
	global.Pause.SetEnabled(ctl && m.b.paused == nil && !m.b.finished())
	snap, _, _, _ := m.shellTarget(false)
	global.Shell.SetEnabled(m.opt.Backend != nil && snap != nil)
	part, _, _, _ := m.shellTarget(true)
	global.Partial.SetEnabled(m.opt.Backend != nil && part != nil)
	global.Rebuild.SetEnabled(m.opt.Rebuild != nil && !m.b.inspecting())
	global.RebuildNoCache.SetEnabled(m.opt.Rebuild != nil && !m.b.inspecting() && m.b.step(m.sel) != nil)
	r := m.b.step(m.sel)
	hasSnap := r != nil && r.snap != nil
	global.Mark.SetEnabled(hasSnap)
	global.Compare.SetEnabled(hasSnap && m.mark != nil && m.mark.snap != r.snap)
	p := m.b.prevStep(m.sel)
	global.ComparePrev.SetEnabled(hasSnap && p != nil && p.snap != nil)
	global.Run.SetEnabled(m.opt.Backend != nil && !m.b.inspecting() && m.b.finalConfig() != nil)
	if m.run != nil && !m.run.done {
		global.Run.SetHelp("x", "stop run")
	}
	if m.ask != nil {
		return helpKeys{pane: askKeys, global: keyMap{Quit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))}}
	}
	if m.form.active {
		return helpKeys{pane: m.form.keys, global: keyMap{Quit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))}}
	}
	var pk help.KeyMap
	switch m.focus {
	case paneDockerfile:
		pk = m.df.keys
	case paneSteps:
		k := m.steps.keys
		if m.b.inspecting() {
			k.Follow.SetEnabled(false) // nothing to follow
		}
		pk = k
	default:
		switch m.tab {
		case tabLog:
			pk = m.logs.keys
		case tabFiles:
			pk = m.files.keys
		case tabFile:
			pk = m.file.keys
		case tabCompare:
			pk = m.compare.keys
		case tabSpace:
			pk = m.space.keys
		default:
			pk = m.story.keys
		}
	}
	return helpKeys{pane: pk, global: global}
}

// askKeys are the keep prompt's keys.
var askKeys = saveKeyMap{
	Save:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "keep as a step")),
	Cancel: key.NewBinding(key.WithKeys("n"), key.WithHelp("n/esc", "throw away")),
}

// helpKeys joins the focused pane's keys and the global ones.
type helpKeys struct {
	pane   help.KeyMap
	global keyMap
}

func (h helpKeys) ShortHelp() []key.Binding {
	out := append([]key.Binding(nil), h.pane.ShortHelp()...)
	for _, b := range h.global.actions() {
		if b.Enabled() {
			out = append(out, b)
		}
	}
	return append(out, h.global.ShortHelp()...)
}

func (h helpKeys) FullHelp() [][]key.Binding {
	g := h.global.FullHelp()
	out := append([][]key.Binding{g[0]}, g[1:]...)
	return append(out, h.pane.FullHelp()...)
}

func (m *model) helpRows() int {
	return min(max(1, len(m.bannerLines())), max(1, m.h-minHeight+1))
}

// helpLines is the help bar (one line, or the full help with ?).
func (m *model) helpLines() []string {
	return strings.Split(m.help.View(m.helpKeys()), "\n")
}

// maxStatusRows is how many rows a long status may wrap onto.
const maxStatusRows = 3

// bannerLines is what stands above the help: the keep prompt, a status
// (wrapped, so advice at its end is not cut off) or the pause banner.
func (m *model) bannerLines() []string {
	switch {
	case m.ask != nil:
		return []string{m.askLine()}
	case m.status != "":
		lines := wrap(m.status, m.w, "  ")
		if len(lines) > maxStatusRows {
			lines = lines[:maxStatusRows]
			lines[maxStatusRows-1] += "…"
		}
		for i := range lines {
			lines[i] = statusLine(&m.c.st, m.statusKind, lines[i], m.w)
		}
		return lines
	case m.b.paused != nil:
		return []string{m.pauseBanner()}
	}
	return nil
}

// bottomLines are the rows under the panes: the banner, then the help
// (one line, or all of it with ?) when there is room; at least one row.
func (m *model) bottomLines() []string {
	room := max(1, m.h-minHeight+1)
	out := m.bannerLines()
	if len(out) == 0 && m.help.ShowAll { // the ? screen lists every key
		out = append(out, fit(m.c.st.dim.Render("↑/↓ scroll • ? or esc close • q quit"), m.w))
	}
	if len(out) == 0 {
		out = append(out, fit(m.helpLines()[0], m.w))
	}
	return out[:min(len(out), room)]
}

// layout computes the pane rectangles for the terminal size.
func (m *model) layout() {
	m.help.SetWidth(m.w)
	m.laidRows = m.helpRows()
	avail := m.h - 1 - m.laidRows
	m.laidNeeds = m.needs()
	topH := splitHeight(avail, m.laidNeeds)
	botH := avail - topH
	dfW := splitWidth(m.w, m.laidNeeds)
	m.rects[paneDockerfile] = rect{0, 1, dfW, topH}
	m.rects[paneSteps] = rect{dfW, 1, m.w - dfW, topH}
	m.rects[paneBottom] = rect{0, 1 + topH, m.w, botH}
	in := func(r rect) (int, int) { return max(1, r.w-2), max(1, r.h-2) }
	m.df.SetSize(in(m.rects[paneDockerfile]))
	m.steps.SetSize(in(m.rects[paneSteps]))
	bw, bh := in(m.rects[paneBottom])
	m.logs.SetSize(bw, bh)
	m.files.SetSize(bw, bh)
	m.file.SetSize(bw, bh)
	m.story.SetSize(bw, bh)
	m.config.SetSize(bw, bh)
	m.cache.SetSize(bw, bh)
	m.summary.SetSize(bw, bh)
	m.compare.SetSize(bw, bh)
	m.timeline.SetSize(m.w, m.h-1-m.laidRows)
	m.space.SetSize(bw, bh)
}

// View draws the screen.
func (m *model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "strata"
	if m.opt.Title != "" {
		v.WindowTitle += " · " + m.opt.Title
	}
	return v
}

func (m *model) render() string {
	if m.w < minWidth || m.h < minHeight {
		msg := "terminal too small: strata needs " + itoa(minWidth) + "×" + itoa(minHeight) + ", this is " + itoa(m.w) + "×" + itoa(m.h)
		lines := wrap(msg, max(10, m.w), "")
		return strings.Join(lines, "\n")
	}
	var b strings.Builder
	b.WriteString(m.header())
	b.WriteByte('\n')
	if m.help.ShowAll {
		b.WriteString(m.helpScreen(m.w, m.h-1-m.laidRows))
		m.writeBottom(&b)
		return b.String()
	}
	if m.timelineOn {
		b.WriteString(m.timeline.View())
		m.writeBottom(&b)
		return b.String()
	}
	dr, sr, br := m.rects[paneDockerfile], m.rects[paneSteps], m.rects[paneBottom]
	left := strings.Split(box(&m.c.st, m.sourceTitle(), m.focus == paneDockerfile, strings.Split(m.df.View(), "\n"), dr.w, dr.h), "\n")
	right := strings.Split(box(&m.c.st, m.stepsTitle(), m.focus == paneSteps, strings.Split(m.steps.View(), "\n"), sr.w, sr.h), "\n")
	for i := range left {
		b.WriteString(left[i])
		if i < len(right) {
			b.WriteString(right[i])
		}
		b.WriteByte('\n')
	}
	b.WriteString(m.bottomBox(br))
	m.writeBottom(&b)
	if !m.form.active {
		return b.String()
	}
	bw, bh := m.form.size(m.w, m.h)
	return overlay(b.String(), m.form.view(bw, bh), (m.w-bw)/2, max(1, (m.h-bh)/2))
}

// writeBottom writes the rows under the panes.
func (m *model) writeBottom(b *strings.Builder) {
	bl := m.bottomLines()
	for i := 0; i < m.laidRows; i++ {
		b.WriteByte('\n')
		if i < len(bl) {
			b.WriteString(bl[i])
		} else {
			b.WriteString(strings.Repeat(" ", m.w))
		}
	}
}

// sourceTitle names the upper left pane: the Dockerfile, or the history
// of an inspected image.
func (m *model) sourceTitle() string {
	if m.b.inspecting() {
		return "History"
	}
	return "Dockerfile"
}

func (m *model) stepsTitle() string {
	fin, _, _, _ := m.b.counts()
	if m.b.inspecting() {
		n := 0
		for i := range m.b.steps {
			if m.b.steps[i].diffID != "" {
				n++
			}
		}
		return "Layers " + itoa(n) + " · " + itoa(fin) + "/" + itoa(len(m.b.steps)) + " entries"
	}
	if len(m.b.steps) == 0 {
		return "Steps"
	}
	t := "Steps " + itoa(fin) + "/" + itoa(len(m.b.steps))
	if m.b.builds > 1 {
		t += " · build " + itoa(m.b.builds)
	}
	return t
}

// bottomBox draws the lower pane with its tab bar in the top border.
func (m *model) bottomBox(r rect) string {
	st := &m.c.st
	var content string
	switch m.tab {
	case tabLog:
		content = m.logs.View()
	case tabStep:
		content = m.story.View()
	case tabFiles:
		content = m.files.View()
	case tabFile:
		content = m.file.View()
	case tabConfig:
		content = m.config.View()
	case tabCache:
		content = m.cache.View()
	case tabSummary:
		content = m.summary.View()
	case tabCompare:
		content = m.compare.View()
	case tabSpace:
		content = m.space.View()
	}
	// the tab bar
	var tb strings.Builder
	for t := tab(0); t < tabCount; t++ {
		if t == m.tab {
			tb.WriteString(st.tabActive.Render(m.tabTitle(t)))
		} else {
			tb.WriteString(st.tabInactive.Render(m.tabTitle(t)))
		}
	}
	return box(st, tb.String(), m.focus == paneBottom, strings.Split(content, "\n"), r.w, r.h)
}

func (m *model) tabTitle(t tab) string {
	if m.w < 100 {
		return " " + tabNames[t] + " "
	}
	return " " + itoa(int(t)+1) + " " + tabNames[t] + " "
}

// tabAt is the tab whose title is at column x of the bottom border.
func (m *model) tabAt(x int) (tab, bool) {
	pos := 3 // "╭─ " comes before the first title
	if m.focus == paneBottom {
		pos++ // and the focus mark ▸
	}
	for t := tab(0); t < tabCount; t++ {
		n := len([]rune(m.tabTitle(t)))
		if x >= pos && x < pos+n {
			return t, true
		}
		pos += n
	}
	return 0, false
}

func (m *model) header() string {
	st := &m.c.st
	left := st.header.Render(" strata")
	if m.opt.Title != "" {
		left += st.dim.Render(" · ") + m.opt.Title
	}
	var right string
	fin, cached, _, _ := m.b.counts()
	d := m.b.done
	switch {
	case m.b.inspecting():
		right = m.inspectHeader()
	case m.quitting && !m.b.finished():
		right = st.warning.Render("cancelling… waiting for the build to stop")
	case d != nil && d.Error != "":
		right = st.headerErr.Render("✗ build failed") + st.dim.Render(" · "+buildTime(d))
	case d != nil:
		right = st.headerOK.Render("✓ "+shortID(d.ImageID, 12)) + st.dim.Render(" · "+humanBytes(d.Size))
		if m.w >= 100 {
			right += st.dim.Render(" · " + plural(d.Layers, "layer"))
		}
		right += st.dim.Render(" · " + buildTime(d) + " · cache " + itoa(max(cached, d.Cached)) + "/" + itoa(len(m.b.steps)))
	case m.b.closed:
		right = st.headerErr.Render("build ended")
	case m.b.plan == nil:
		right = st.dim.Render("parsing…")
	case m.b.paused != nil:
		right = st.warning.Render("▶ paused") + st.dim.Render(" before step "+itoa(m.b.paused.Step+1)+"/"+itoa(len(m.b.steps)))
	default:
		el := time.Duration(0)
		if !m.b.started.IsZero() {
			el = m.c.now().Sub(m.b.started) - m.b.pausedFor
		}
		right = st.running.Render(m.c.spin+" building") + st.dim.Render(" "+itoa(fin)+"/"+itoa(len(m.b.steps))+" · "+humanDuration(el))
	}
	return leftRight(left, right+" ", m.w)
}
