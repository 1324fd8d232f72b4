package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/strata-build/strata/build/event"
)

// timelineModel is the full-screen timeline (T): the build's steps as bars
// on one time axis (cached steps as ticks), and, entered on a RUN, its
// process tree as nested bars (a flame chart on its side) with the chosen
// process's details under it.
type timelineModel struct {
	c *common
	*tlData
	w, h int

	cur int // step under the cursor
	// in is the step whose processes are shown, -1 on the steps view.
	in    int
	nodes []tlNode
	pcur  int
	off   int
}

// tlData is what the timeline knows of the build, shared with the Step
// tab (common.timing), which draws the selected step's phases from it.
type tlData struct {
	steps []tlStep
	t0    time.Time
}

// phases is step i's phases and duration (nil when it has none).
func (d *tlData) phases(i int) ([]event.Phase, time.Duration, int) {
	if d == nil || i < 0 || i >= len(d.steps) {
		return nil, 0, 0
	}
	s := d.steps[i]
	return s.phases, s.dur, len(s.processes)
}

type tlStep struct {
	info      event.StepInfo
	start     time.Time
	dur       time.Duration
	cached    bool
	failed    bool
	done      bool
	phases    []event.Phase
	processes []event.Process
	// logs are the step's output lines with when they came (the last
	// tlLogCap), so a process shows what was written while it ran.
	logs []tlLog
}

type tlLog struct {
	at   time.Time
	line string
}

const tlLogCap = 5000

type tlNode struct {
	n     *event.ProcNode
	depth int
}

var timelineKeys = struct {
	Up, Down, Enter, Back key.Binding
}{
	Up:    key.NewBinding(key.WithKeys("up", "k")),
	Down:  key.NewBinding(key.WithKeys("down", "j")),
	Enter: key.NewBinding(key.WithKeys("enter", "right", "l")),
	Back:  key.NewBinding(key.WithKeys("esc", "left", "h", "backspace")),
}

func newTimeline(c *common) timelineModel {
	d := &tlData{}
	c.timing = d
	return timelineModel{c: c, tlData: d, in: -1}
}

// observe folds a build event into the timeline.
func (m *timelineModel) observe(ev event.Event) {
	step := func(i int) *tlStep {
		if i >= 0 && i < len(m.steps) {
			return &m.steps[i]
		}
		return nil
	}
	switch e := ev.(type) {
	case event.PlanReady:
		m.t0 = e.Time
		m.steps = make([]tlStep, len(e.Steps))
		for i, s := range e.Steps {
			m.steps[i] = tlStep{info: s}
		}
		m.cur, m.in, m.nodes = 0, -1, nil
	case event.StepStarted:
		if s := step(e.Step); s != nil && s.start.IsZero() {
			s.start = e.Time
		}
	case event.StepLog:
		if s := step(e.Step); s != nil && e.Stream != "info" {
			if len(s.logs) == tlLogCap {
				s.logs = append(s.logs[:0], s.logs[tlLogCap/2:]...)
			}
			s.logs = append(s.logs, tlLog{e.Time, e.Line})
		}
	case event.StepCached:
		if s := step(e.Step); s != nil {
			s.cached, s.done = true, true
			if s.start.IsZero() {
				s.start = e.Time
			}
			s.dur = e.Time.Sub(s.start)
		}
	case event.StepDone:
		if s := step(e.Step); s != nil {
			s.done, s.dur, s.phases, s.processes = true, e.Duration, e.Phases, e.Processes
			s.start = e.Time.Add(-e.Duration)
		}
	case event.StepFailed:
		if s := step(e.Step); s != nil {
			s.done, s.failed, s.dur, s.phases, s.processes = true, true, e.Duration, e.Phases, e.Processes
			s.start = e.Time.Add(-e.Duration)
		}
	}
}

func (m *timelineModel) SetSize(w, h int) { m.w, m.h = w, h }

func (m timelineModel) Update(msg tea.Msg) (timelineModel, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	if m.in < 0 {
		switch {
		case key.Matches(k, timelineKeys.Up):
			m.cur = max(0, m.cur-1)
		case key.Matches(k, timelineKeys.Down):
			m.cur = min(len(m.steps)-1, m.cur+1)
		case key.Matches(k, timelineKeys.Enter):
			if m.cur >= 0 && m.cur < len(m.steps) {
				if tree := event.ProcessTree(m.steps[m.cur].processes); tree != nil {
					m.in, m.pcur, m.off = m.cur, 0, 0
					m.nodes = nil
					tree.Walk(func(n *event.ProcNode, d int) { m.nodes = append(m.nodes, tlNode{n, d}) })
				}
			}
		}
		return m, nil
	}
	switch {
	case key.Matches(k, timelineKeys.Up):
		m.pcur = max(0, m.pcur-1)
	case key.Matches(k, timelineKeys.Down):
		m.pcur = min(len(m.nodes)-1, m.pcur+1)
	case key.Matches(k, timelineKeys.Back):
		m.in = -1
	}
	return m, nil
}

// bar draws [start, end) of total on width cells: █ for whole cells, a
// tick (│) when it is shorter than one.
func bar(start, end, total time.Duration, width int) string {
	cells := make([]rune, width)
	for i := range cells {
		cells[i] = ' '
	}
	if total <= 0 || width <= 0 {
		return string(cells)
	}
	a := int(int64(width) * int64(start) / int64(total))
	b := int(int64(width) * int64(end) / int64(total))
	a = min(max(a, 0), width-1)
	b = min(max(b, a), width)
	if b == a {
		cells[a] = '│'
	}
	for i := a; i < b; i++ {
		cells[i] = '█'
	}
	return string(cells)
}

func tlFit(s string, w int) string {
	r := []rune(s)
	if len(r) > w {
		if w <= 1 {
			return string(r[:max(w, 0)])
		}
		return string(r[:w-1]) + "…"
	}
	return s + strings.Repeat(" ", w-len(r))
}

func (m timelineModel) total() time.Duration {
	var end time.Duration
	for _, s := range m.steps {
		if !s.start.IsZero() {
			end = max(end, s.start.Add(s.dur).Sub(m.t0))
		}
	}
	return end
}

// View draws the timeline on w×h.
func (m timelineModel) View() string {
	st := &m.c.st
	var lines []string
	if m.in < 0 {
		total := m.total()
		lines = append(lines, st.bold.Render(tlFit(fmt.Sprintf("Timeline · %d steps · %s", len(m.steps), event.RoundDuration(total)), m.w)))
		// Under the steps: the selected step's phases, findings and keys.
		var detail []string
		if m.cur >= 0 && m.cur < len(m.steps) {
			s := m.steps[m.cur]
			detail = append(detail, "")
			if len(s.phases) > 0 {
				detail = append(detail, phaseBars(m.c, s.phases, s.dur, m.w)...)
			}
			for _, f := range event.Findings(event.StepTiming{Kind: s.info.Kind, Duration: s.dur, Phases: s.phases, Processes: s.processes, Text: s.info.Text}) {
				detail = append(detail, tlFit("• "+f, m.w))
			}
			if len(s.processes) > 0 {
				detail = append(detail, st.dim.Render(tlFit(fmt.Sprintf("enter: its %d processes", len(s.processes)), m.w)))
			}
		}
		listH := max(3, m.h-2-len(detail))
		if len(m.steps) < listH {
			listH = len(m.steps)
		}
		off := clamp(m.cur-listH/2, 0, max(0, len(m.steps)-listH))
		labelW := min(36, m.w/3)
		durW := 8
		barW := max(4, m.w-labelW-durW-2)
		for i := off; i < len(m.steps) && i < off+listH; i++ {
			s := m.steps[i]
			label := tlFit(fmt.Sprintf("%2d %s", i+1, s.info.Text), labelW)
			b := strings.Repeat(" ", barW)
			d := ""
			if !s.start.IsZero() {
				if s.cached {
					b = bar(s.start.Sub(m.t0), s.start.Sub(m.t0), total, barW)
					d = "cached"
				} else if s.done {
					b = bar(s.start.Sub(m.t0), s.start.Sub(m.t0)+s.dur, total, barW)
					d = event.RoundDuration(s.dur)
				}
			}
			line := label + " " + b + " " + tlFit(d, durW)
			if i == m.cur {
				line = st.selected.Render(line)
			}
			lines = append(lines, line)
		}
		lines = append(lines, detail...)
		lines = append(lines, st.dim.Render(tlFit("↑/↓ step · enter processes · T or esc close", m.w)))
		return m.frame(lines)
	}
	s := m.steps[m.in]
	lines = append(lines, st.bold.Render(tlFit(fmt.Sprintf("Step %d processes · %s · %d processes", m.in+1, event.RoundDuration(s.dur), len(s.processes)), m.w)))
	listH := max(3, (m.h-1)*55/100)
	off := m.off
	if m.pcur < off {
		off = m.pcur
	}
	if m.pcur >= off+listH {
		off = m.pcur - listH + 1
	}
	labelW := min(40, m.w/3)
	durW := 8
	barW := max(4, m.w-labelW-durW-2)
	for i := off; i < len(m.nodes) && i < off+listH; i++ {
		n := m.nodes[i]
		label := tlFit(strings.Repeat("  ", n.depth)+n.n.Label(), labelW)
		d := event.RoundDuration(n.n.Duration())
		if n.n.Count > 1 {
			d = event.RoundDuration(n.n.Busy)
		}
		line := label + " " + bar(n.n.Start, n.n.End, s.dur, barW) + " " + tlFit(d, durW)
		if i == m.pcur {
			line = st.selected.Render(line)
		}
		lines = append(lines, line)
	}
	for len(lines) < 1+listH {
		lines = append(lines, "")
	}
	if m.pcur >= 0 && m.pcur < len(m.nodes) {
		p := m.nodes[m.pcur].n
		lines = append(lines, tlFit("$ "+p.Command(), m.w))
		info := fmt.Sprintf("pid %d, parent %d, exit %d, %s from %s", p.PID, p.PPID, p.Exit, event.RoundDuration(p.Duration()), event.RoundDuration(p.Start))
		if p.Count > 1 {
			info = fmt.Sprintf("%d processes, %s in all, %d failed, from %s to %s", p.Count, event.RoundDuration(p.Busy), p.Failed, event.RoundDuration(p.Start), event.RoundDuration(p.End))
		}
		lines = append(lines, tlFit(info, m.w))
		lines = append(lines, tlFit(fmt.Sprintf("cpu %s user, %s system · peak memory %s · read %s, written %s (disk %s / %s)",
			event.RoundDuration(p.User), event.RoundDuration(p.System), event.HumanSize(p.MaxRSS), event.HumanSize(p.ReadChars), event.HumanSize(p.WriteChars),
			event.HumanSize(p.ReadBytes), event.HumanSize(p.WriteBytes)), m.w))
		// The output written while it ran (the step's one stream: lines
		// of processes running at the same time mix in).
		from, to := s.start.Add(p.Start), s.start.Add(p.End)
		var out []string
		for _, l := range s.logs {
			if !l.at.Before(from) && !l.at.After(to.Add(10*time.Millisecond)) {
				out = append(out, l.line)
			}
		}
		room := m.h - len(lines) - 2
		if room > 0 {
			lines = append(lines, m.c.st.dim.Render(tlFit("output while it ran: "+plural(len(out), "line"), m.w)))
			for _, l := range out[max(0, len(out)-(room)):] {
				lines = append(lines, tlFit("  "+l, m.w))
			}
		}
	}
	lines = append(lines, st.dim.Render(tlFit("↑/↓ process · esc back to steps · T close", m.w)))
	return m.frame(lines)
}

func (m timelineModel) frame(lines []string) string {
	if n := len(lines); n > 0 && n < m.h {
		// the keys on the last row
		keys := lines[n-1]
		lines = lines[:n-1]
		for len(lines) < m.h-1 {
			lines = append(lines, "")
		}
		lines = append(lines, keys)
	}
	if len(lines) > m.h {
		// keep the last line (the keys)
		lines = append(lines[:m.h-1], lines[len(lines)-1])
	}
	return strings.Join(lines, "\n")
}

// phaseBars draws phases as one bar each on the step's time axis (d),
// named on the left, with the duration on the right.
func phaseBars(c *common, phases []event.Phase, d time.Duration, w int) []string {
	nameW, durW := 10, 8
	barW := max(4, w-nameW-durW-2)
	var out []string
	for _, p := range phases {
		line := tlFit(p.Name, nameW) + " " + bar(p.Start, p.End, d, barW) + " " + tlFit(event.RoundDuration(p.Duration()), durW)
		out = append(out, line)
	}
	// What a phase says of itself (its peak memory, or why a RUN's
	// processes were not recorded) under the bars, so that a step without
	// a process tree says why.
	for _, p := range phases {
		if p.Detail != "" {
			for _, l := range wrap(p.Name+": "+p.Detail, w, "  ") {
				out = append(out, c.st.dim.Render(l))
			}
		}
	}
	return out
}

// stepPhases is the Step tab's part on where step's time went: a bar per
// phase, and how many processes it ran (T shows them).
func stepPhases(c *common, step, w int) []string {
	phases, d, procs := c.timing.phases(step)
	if len(phases) == 0 || d <= 0 {
		return nil
	}
	out := []string{"", c.st.bold.Render("Where its " + event.RoundDuration(d) + " went:")}
	out = append(out, phaseBars(c, phases, d, w)...)
	if procs > 0 {
		out = append(out, c.st.dim.Render(tlFit(fmt.Sprintf("%d processes ran: T shows them on the timeline", procs), w)))
	}
	return out
}

// timelineKey handles T (open, close) and, while the timeline is open,
// every key but ctrl+c; ok is false for keys it leaves to the rest.
func (m *model) timelineKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := msg.String()
	if !m.timelineOn {
		if key.Matches(msg, m.keys.Timeline) && !m.capturing() {
			m.timelineOn = true
			return nil, true
		}
		return nil, false
	}
	switch {
	case k == "ctrl+c":
		return nil, false
	case key.Matches(msg, m.keys.Timeline), k == "q", k == "esc" && m.timeline.in < 0:
		m.timelineOn = false
		return nil, true
	}
	m.timeline, _ = m.timeline.Update(msg)
	return nil, true
}
