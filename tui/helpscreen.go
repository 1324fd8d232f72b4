package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"
)

// helpGroup is one titled list of keys (or symbols) of the ? screen.
type helpGroup struct {
	title string
	rows  [][2]string // key (or symbol), what it does (or means)
}

func bindingRows(bs ...key.Binding) [][2]string {
	out := make([][2]string, 0, len(bs))
	for _, b := range bs {
		if h := b.Help(); h.Key != "" {
			out = append(out, [2]string{h.Key, h.Desc})
		}
	}
	return out
}

// helpGroups is every key, grouped as they apply (everywhere, in each pane,
// while paused, after a shell), then the legend of the status symbols. The
// focused pane's group comes first among the panes.
func (m *model) helpGroups() []helpGroup {
	k := m.keys
	nav := m.df.keys.navKeyMap
	global := helpGroup{"Everywhere", append(bindingRows(k.NextPane, k.PrevPane), append([][2]string{
		{"1-9", "pick a tab below (the focus moves there)"}},
		bindingRows(k.NextTab, k.PrevTab, k.Help, k.Quit)...)...)}
	global.rows = append(global.rows, [2]string{"ctrl+c", "quit (stops the build)"})
	if k.Platform.Enabled() {
		global.rows = append(global.rows, [2]string{k.Platform.Help().Key, "show the next platform's build (each platform is its own run)"})
	}
	build := helpGroup{"Build and image", bindingRows(k.Break, k.Pause, k.Shell, k.Partial, k.Rebuild, k.RebuildNoCache,
		k.Mark, k.Compare, k.ComparePrev, k.Run, k.Save, k.Timeline)}
	build.rows = append(build.rows, [2]string{"x", "stop the run (while it runs)"})
	lk, fk, ck := m.logs.keys, m.files.keys, m.compare.keys
	panes := []struct {
		on bool
		g  helpGroup
	}{
		{m.focus == paneDockerfile, helpGroup{"Dockerfile pane", bindingRows(m.df.keys.Open)}},
		{m.focus == paneSteps, helpGroup{"Steps pane", bindingRows(m.steps.keys.Open, m.steps.keys.Follow)}},
		{m.focus == paneBottom && m.tab == tabLog, helpGroup{"Log tab", bindingRows(lk.Search, lk.Next, lk.Prev, lk.Follow)}},
		{m.focus == paneBottom && m.tab == tabFiles, helpGroup{"Files tab", bindingRows(fk.Open, fk.Expand, fk.Collapse, fk.Filter, fk.Sort, fk.Whole, fk.Search, fk.Clear)}},
		{m.focus == paneBottom && m.tab == tabFile, helpGroup{"File tab", bindingRows(m.file.keys.Back)}},
		{m.focus == paneBottom && m.tab == tabCompare, helpGroup{"Compare tab", bindingRows(ck.Open, ck.Expand, ck.Collapse, ck.Filter, ck.Sort, ck.Search, ck.Clear, ck.Config)}},
		{m.focus == paneBottom && m.tab == tabSpace, helpGroup{"Space tab", bindingRows(m.space.keys.Open)}},
	}
	out := []helpGroup{global}
	paused := helpGroup{"While paused", bindingRows(k.Next, k.Continue, k.Shell, k.Break)}
	if m.b.paused != nil { // what applies now comes first
		paused.title += " (now)"
		out = append(out, paused)
	}
	moving := helpGroup{"Moving (every pane and tab)", bindingRows(nav.bindings()...)}
	for _, p := range panes {
		if p.on {
			p.g.title += " (focused)"
			out = append(out, p.g)
		}
	}
	out = append(out, moving)
	for _, p := range panes {
		if !p.on {
			out = append(out, p.g)
		}
	}
	if m.b.paused == nil {
		out = append(out, paused)
	}
	out = append(out, build,
		helpGroup{"After a shell", [][2]string{
			{askKeys.Save.Help().Key, "keep the shell's changes as a step (prints its RUN line)"},
			{askKeys.Cancel.Help().Key, "throw the changes away"}}},
		helpGroup{"Symbols", [][2]string{
			{spinFrames[0] + " " + spinFrames[3], "running (the spinner turns)"},
			{"✓", "built"},
			{"≡", "from the cache"},
			{"·", "not run yet"},
			{"–", "a stage the build skips (why under it)"},
			{"✗", "failed"},
			{"▶", "paused before this step"},
			{"●", "breakpoint on this line"},
			{"◆", "marked for a comparison (m)"},
			{"$", "a debug shell's changes kept as a step"},
			{"!", "a lint warning on this line"},
			{"▌", "the selected step"}}},
		helpGroup{"Figures", [][2]string{
			{"Steps size", "the layer: its uncompressed tar"},
			{"header size", "the image's layers, as tars"},
			{"Files size", "file content bytes"},
			{"meta", "config only, no layer"},
			{"no changes", "an empty layer (as docker; \"empty\" when narrow)"},
			{"+1.2s red", "slower/bigger than last build"},
			{"-0.3s green", "faster/smaller"}}},
	)
	return out
}

// helpScreenLines lays the groups out in as many columns of about 38 cells
// as w allows, in order, a group never split between columns.
func (m *model) helpScreenLines(w int) []string {
	st := &m.c.st
	cols := clamp(w/38, 1, 4)
	colW := w / cols
	var blocks [][]string
	total := 0
	for _, g := range m.helpGroups() {
		kw := 0
		for _, r := range g.rows {
			kw = max(kw, ansi.StringWidth(r[0]))
		}
		b := []string{st.bold.Render(g.title)}
		for _, r := range g.rows {
			pad := strings.Repeat(" ", kw-ansi.StringWidth(r[0]))
			desc := wrap(r[1], max(10, colW-1-kw-4), "")
			b = append(b, "  "+st.keyword.Render(r[0])+pad+"  "+desc[0])
			for _, d := range desc[1:] {
				b = append(b, strings.Repeat(" ", kw+4)+d)
			}
		}
		b = append(b, "")
		blocks = append(blocks, b)
		total += len(b)
	}
	per := (total + cols - 1) / cols
	columns := make([][]string, cols)
	c := 0
	for _, b := range blocks {
		if c < cols-1 && len(columns[c]) > 0 && len(columns[c])+len(b)/2 > per {
			c++
		}
		columns[c] = append(columns[c], b...)
	}
	n := 0
	for _, col := range columns {
		n = max(n, len(col))
	}
	out := make([]string, n)
	for i := range out {
		var l strings.Builder
		for ci, col := range columns {
			cell := ""
			if i < len(col) {
				cell = col[i]
			}
			if ci < cols-1 {
				cell = fit(cell, colW)
			}
			l.WriteString(cell)
		}
		out[i] = l.String()
	}
	return out
}

// helpScreen draws the ? screen in place of the panes, h rows of w.
func (m *model) helpScreen(w, h int) string {
	lines := m.helpScreenLines(w - 2)
	m.helpOff = clamp(m.helpOff, 0, max(0, len(lines)-(h-2)))
	title := "Keys and symbols"
	if len(lines) > h-2 {
		title += " · ↑/↓ scroll"
	}
	return box(&m.c.st, title+" · ? or esc closes", false, lines[m.helpOff:], w, h)
}

// helpKey handles a key while the ? screen is shown: it scrolls or closes;
// q and ctrl+c still quit (ok false).
func (m *model) helpKey(s string) bool {
	switch s {
	case "?", "esc":
		m.help.ShowAll = false
		m.layout()
	case "up", "k":
		m.helpOff--
	case "down", "j", "enter":
		m.helpOff++
	case "pgup", "ctrl+u":
		m.helpOff -= 10
	case "pgdown", "ctrl+d", "space":
		m.helpOff += 10
	case "home", "g":
		m.helpOff = 0
	case "end", "G":
		m.helpOff = 1 << 20
	case "q", "ctrl+c":
		return false
	}
	m.helpOff = max(0, m.helpOff)
	return true
}
