package tui

import tea "charm.land/bubbletea/v2"

func (m *model) paneAt(x, y int) (pane, bool) {
	for p := paneDockerfile; p < paneCount; p++ {
		if m.rects[p].contains(x, y) {
			return p, true
		}
	}
	return 0, false
}

func (m *model) onClick(ms tea.Mouse) tea.Cmd {
	if ms.Button != tea.MouseLeft {
		return nil
	}
	p, ok := m.paneAt(ms.X, ms.Y)
	if !ok {
		return nil
	}
	r := m.rects[p]
	m.setFocus(p)
	row := ms.Y - r.y - 1
	if p == paneBottom && row < 0 { // the tab bar on the border
		if t, ok := m.tabAt(ms.X); ok {
			return m.setTab(t)
		}
		return nil
	}
	if row < 0 || row >= r.h-2 {
		return nil
	}
	var cmd tea.Cmd
	switch p {
	case paneDockerfile:
		m.df.Click(row)
	case paneSteps:
		m.steps.Click(row)
	default:
		switch m.tab {
		case tabFiles:
			cmd = m.files.Click(row)
		case tabCompare:
			cmd = m.compare.Click(row)
		case tabSpace:
			cmd = m.space.Click(row)
		}
	}
	return tea.Batch(cmd, m.syncFromPanes())
}

func (m *model) onWheel(ms tea.Mouse) tea.Cmd {
	n := 0
	switch ms.Button {
	case tea.MouseWheelUp:
		n = -3
	case tea.MouseWheelDown:
		n = 3
	default:
		return nil
	}
	p, ok := m.paneAt(ms.X, ms.Y)
	if !ok {
		return nil
	}
	var cmd tea.Cmd
	switch p {
	case paneDockerfile:
		m.df.Scroll(n)
		if m.focus == paneDockerfile {
			return m.syncFromPanes()
		}
	case paneSteps:
		m.steps.Scroll(n / 3)
		return m.sync()
	default:
		switch m.tab {
		case tabLog:
			cmd = m.logs.Scroll(n)
		case tabFiles:
			m.files.Scroll(n)
		case tabFile:
			m.file.Scroll(n)
		case tabStep:
			m.story.Scroll(n)
		case tabConfig:
			m.config.Scroll(n)
		case tabCache:
			m.cache.Scroll(n)
		case tabSummary:
			m.summary.Scroll(n)
		case tabCompare:
			m.compare.Scroll(n)
		case tabSpace:
			m.space.Scroll(n)
		}
	}
	return cmd
}
