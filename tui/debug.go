package tui

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

// Control pauses and steps the build; *build.Control is the real one. The
// TUI calls it from its own goroutine and learns what the build did from
// the Paused and Resumed events, never from the build's state.
type Control interface {
	// ToggleBreak sets or clears the breakpoint on a Dockerfile line and
	// says whether it is now set.
	ToggleBreak(line int) bool
	// Breakpoints lists the marked lines.
	Breakpoints() []int
	// Next runs one step and pauses before the following one.
	Next()
	// Continue runs to the next breakpoint (or the end).
	Continue()
	// Pause stops before the next step.
	Pause()
}

var errNoBackend = errors.New("not available here: no build backend")

// Messages of the debugger.
type (
	// shellDoneMsg: the shell exited (the TUI is back).
	shellDoneMsg struct {
		sh  snapshot.DebugShell
		err error
		on  int    // the row the shell's snapshot belongs to
		why string // what the shell opened on
		// build is the build (buildState.builds) the row belongs to
		build int
	}
	// shellChangesMsg: what the shell changed, read after it exited.
	shellChangesMsg struct {
		sh      snapshot.DebugShell
		on      int
		why     string
		build   int
		changes []layers.Change
		cmds    []string
		runLine string
		err     error
	}
	// shellKeptMsg: the shell's change became a snapshot.
	shellKeptMsg struct {
		on      int
		why     string
		snap    *event.Snapshot
		runLine string
		cmds    []string
		err     error
	}
	// shellDiscardedMsg: the shell's container was removed.
	shellDiscardedMsg struct{ quit bool }
)

// keepPrompt asks whether to keep what a shell changed.
type keepPrompt struct {
	sh      snapshot.DebugShell
	on      int
	why     string
	stats   layers.ChangeStats
	files   int
	cmds    []string
	runLine string
	build   int // the build the shell's row belongs to
}

// toggleBreak sets or clears a breakpoint: on the Dockerfile line under
// the cursor when that pane has the focus, else on the selected step's
// first line.
func (m *model) toggleBreak() {
	if m.opt.Control == nil || m.b.inspecting() {
		m.setStatus(statusErr, "breakpoints need a build: there is none here")
		return
	}
	var r *stepRec
	if m.focus == paneDockerfile {
		line := m.df.cursor + 1
		if r = m.b.planStep(m.b.stepAtLine(line)); r == nil {
			m.setStatus(statusErr, "line "+itoa(line)+" is not part of an instruction: no step stops there; put the breakpoint on a step's line")
			return
		}
	} else if r = m.b.step(m.sel); r != nil && r.kind == recShell {
		r = m.b.planStep(r.owner) // a kept shell: the step it was kept on
	}
	if r == nil || r.kind != recStep || r.info.StartLine <= 0 {
		m.setStatus(statusErr, "no step selected to put a breakpoint on")
		return
	}
	// A step stops on a breakpoint on any line of its instruction
	// (--break may name a continuation line): b clears them all, or sets
	// one on the instruction's first line.
	var set []int
	for l := r.info.StartLine; l <= lastLineOf(r); l++ {
		if m.b.breaks[l] {
			set = append(set, l)
		}
	}
	if len(set) == 0 {
		line := r.info.StartLine
		if !m.opt.Control.ToggleBreak(line) {
			m.opt.Control.ToggleBreak(line) // (it was set meanwhile: keep it set)
		}
		m.syncBreaks()
		m.setStatus(statusInfo, "breakpoint on line "+itoa(line)+": the build stops before the step there")
		return
	}
	for _, l := range set {
		if m.opt.Control.ToggleBreak(l) {
			m.opt.Control.ToggleBreak(l)
		}
	}
	m.syncBreaks()
	m.setStatus(statusInfo, "breakpoint on line "+itoa(set[0])+" removed")
}

// syncBreaks mirrors the Control's breakpoints for the gutter.
func (m *model) syncBreaks() {
	m.b.breaks = map[int]bool{}
	if m.opt.Control == nil {
		return
	}
	for _, l := range m.opt.Control.Breakpoints() {
		m.b.breaks[l] = true
	}
}

// stepping handles n, c and P; ok is false when the key is not for the
// debugger now (n is the log search's next match unless paused).
func (m *model) stepping(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	ctl := m.opt.Control
	if ctl == nil {
		return nil, false
	}
	switch {
	case m.b.paused != nil && key.Matches(msg, m.keys.Next):
		m.steps.follow = true
		ctl.Next()
		m.setStatusWhile(statusInfo, "running "+m.pausedLabel()+"; pausing before the next step")
		return nil, true
	case m.b.paused != nil && key.Matches(msg, m.keys.Continue):
		m.steps.follow = true
		ctl.Continue()
		m.setStatusWhile(statusInfo, "continuing to the next breakpoint")
		return nil, true
	case key.Matches(msg, m.keys.Pause) && !m.b.finished() && m.b.plan != nil && !m.b.inspecting():
		if m.b.paused != nil {
			m.setStatus(statusInfo, "the build is paused already: n runs one step, c continues")
			return nil, true
		}
		ctl.Pause()
		m.setStatusWhile(statusInfo, "pausing before the next step…")
		return nil, true
	}
	return nil, false
}

// pausedLabel is the label of the step the build is paused before.
func (m *model) pausedLabel() string {
	if p := m.b.paused; p != nil {
		if r := m.b.planStep(p.Step); r != nil {
			return r.label()
		}
	}
	return "the step"
}

// pauseBanner is the help bar's first row while paused.
func (m *model) pauseBanner() string {
	st := &m.c.st
	p := m.b.paused
	why := "stepping"
	if p.Why == "breakpoint" {
		why = "breakpoint, line " + itoa(p.Line)
	}
	keys := st.helpSep.Render(" — ") + st.helpKey.Render("n") + st.helpDesc.Render(" next") + st.helpSep.Render(" · ") +
		st.helpKey.Render("c") + st.helpDesc.Render(" continue") + st.helpSep.Render(" · ") +
		st.helpKey.Render("s") + st.helpDesc.Render(" shell")
	right := st.warning.Render(" ("+why+")") + keys
	left := "▶ paused before " + m.pausedLabel()
	more := st.helpSep.Render(" · ") + st.helpKey.Render("b") + st.helpDesc.Render(" breakpoint") +
		st.helpSep.Render(" · ") + st.helpKey.Render("q") + st.helpDesc.Render(" quit")
	if ansi.StringWidth(left+right+more) <= m.w {
		right += more
	}
	if room := m.w - ansi.StringWidth(right); ansi.StringWidth(left) > room {
		left = ansi.Truncate(left, max(1, room), "…")
	}
	return fit(st.warning.Render(left)+right, m.w)
}

// shellTarget is the snapshot s (or p, partial) opens a shell in for the
// selected row, the options, and a word on what it is; an empty snapshot
// comes with the reason.
func (m *model) shellTarget(partial bool) (snap *event.Snapshot, opt snapshot.ShellOptions, on int, why string) {
	opt.Shell = m.opt.DebugShell
	r := m.b.step(m.sel)
	if r == nil {
		return nil, opt, -1, "no step selected"
	}
	on = m.sel
	switch {
	case r.kind == recRun:
		return nil, opt, -1, "the run has no snapshot: select a step"
	case partial && (r.status != statusFailed || r.snap == nil || r.snap.UpperDir == ""):
		return nil, opt, -1, "p opens the partial result of a failed RUN: " + r.label() + " has none"
	case r.status == statusFailed && r.snap != nil && partial:
		opt.Partial, opt.Failed = true, r.command
		why = "the partial result of failed step " + r.label()
	case r.status == statusFailed && r.snap != nil:
		before := *r.snap
		before.UpperDir = "" // the state before the failed command
		opt.Failed = r.command
		return &before, withTitle(opt, "before failed step "+r.label()), on, "the state before failed step " + r.label()
	case r.snap != nil:
		why = "the snapshot after " + r.label()
		if r.kind == recShell {
			why = "the kept shell snapshot " + r.label()
		}
	default:
		// a step not run yet (paused before it): the state it starts from
		for i := m.sel - 1; i >= 0; i-- {
			p := m.b.planStep(i)
			if p == nil || p.info.Stage != r.info.Stage {
				break
			}
			if p.snap != nil && p.status != statusFailed {
				w := "the state before " + r.label() + " (after " + p.label() + ")"
				return p.snap, withTitle(opt, "before step "+r.label()), i, w
			}
		}
		return nil, opt, -1, r.label() + " has no snapshot yet and no step before it in its stage has finished"
	}
	return r.snap, withTitle(opt, "on "+why), on, why
}

func withTitle(o snapshot.ShellOptions, t string) snapshot.ShellOptions {
	o.Title = t
	return o
}

// openShell starts a debug shell on the selected row's snapshot; the TUI
// suspends while it runs.
func (m *model) openShell(partial bool) tea.Cmd {
	if m.opt.Backend == nil {
		m.setStatus(statusErr, "shells are not available here")
		return nil
	}
	snap, opt, on, why := m.shellTarget(partial)
	if snap == nil {
		m.setStatus(statusErr, why)
		return nil
	}
	sh, err := m.opt.Backend.OpenShell(snap, opt)
	if err != nil {
		m.setStatus(statusErr, "shell: "+err.Error())
		return nil
	}
	m.setStatus(statusInfo, "shell on "+why)
	return tea.Exec(sh, m.shellExit(sh, on, why))
}

// shellExit is what a shell opened now on row on says when it exits.
func (m *model) shellExit(sh snapshot.DebugShell, on int, why string) tea.ExecCallback {
	n := m.b.builds
	return func(err error) tea.Msg { return shellDoneMsg{sh: sh, err: err, on: on, why: why, build: n} }
}

// shellDone reads what the shell changed, in a Cmd.
func (m *model) shellDone(msg shellDoneMsg) tea.Cmd {
	if msg.err != nil {
		m.setStatus(statusErr, "shell: "+msg.err.Error())
		return discardShell(msg.sh, false)
	}
	sh := msg.sh
	return func() tea.Msg {
		ch, err := sh.Changes()
		return shellChangesMsg{sh: sh, on: msg.on, why: msg.why, build: msg.build, changes: ch, cmds: sh.Commands(), runLine: sh.RunLine(), err: err}
	}
}

func discardShell(sh snapshot.DebugShell, quit bool) tea.Cmd {
	return func() tea.Msg {
		sh.Discard()
		return shellDiscardedMsg{quit: quit}
	}
}

// shellChanges asks whether to keep a shell's change.
func (m *model) shellChanges(msg shellChangesMsg) tea.Cmd {
	switch {
	case msg.err != nil:
		m.setStatus(statusErr, "shell: "+msg.err.Error())
		return discardShell(msg.sh, false)
	case len(msg.changes) == 0:
		m.setStatus(statusInfo, "shell closed: it changed no file, nothing to keep")
		return discardShell(msg.sh, false)
	case msg.build != m.b.builds:
		// its row now is another build's step, with other files: the
		// change cannot be kept under it
		m.setStatus(statusErr, "a rebuild ran while the shell was open: its changes, made on the previous build's snapshot, are not kept"+runLineNote(msg.runLine))
		return discardShell(msg.sh, false)
	}
	m.ask = &keepPrompt{sh: msg.sh, on: msg.on, why: msg.why, stats: layers.Stats(msg.changes), files: len(msg.changes),
		cmds: msg.cmds, runLine: msg.runLine, build: msg.build}
	return nil
}

// askKey handles a key while the keep prompt is open.
func (m *model) askKey(msg tea.KeyPressMsg) tea.Cmd {
	a := m.ask
	switch msg.String() {
	case "y", "Y":
		m.ask = nil
		if a.build != m.b.builds { // a rebuild began while asking
			m.setStatus(statusErr, "a rebuild ran while the shell was open: its changes, made on the previous build's snapshot, are not kept"+runLineNote(a.runLine))
			return discardShell(a.sh, false)
		}
		m.setStatus(statusInfo, "keeping the shell's change as a snapshot…")
		return func() tea.Msg {
			snap, line, err := a.sh.Keep()
			return shellKeptMsg{on: a.on, why: a.why, snap: snap, runLine: line, cmds: a.cmds, err: err}
		}
	case "n", "N", "enter", "esc":
		m.ask = nil
		m.setStatus(statusInfo, "the shell's changes were thrown away")
		return discardShell(a.sh, false)
	case "ctrl+c", "q":
		m.ask = nil
		return discardShell(a.sh, true)
	}
	return nil
}

// askLine is the keep prompt, in the help bar.
func (m *model) askLine() string {
	st := &m.c.st
	a := m.ask
	s := a.stats
	q := "keep the shell's changes as a step? " + st.helpKey.Render("y") + "/" + st.helpKey.Render("N")
	info := " · " + plural(a.files, "file") + " changed (+" + itoa(s.Added) + " ~" + itoa(s.Modified) + " -" + itoa(s.Deleted) + ")"
	if a.runLine != "" {
		info += " · " + flatRun(a.runLine)
	}
	return fit(st.warning.Render(q)+st.dim.Render(info), m.w)
}

// shellKept adds the kept snapshot as a row under the step it was made on.
func (m *model) shellKept(msg shellKeptMsg) tea.Cmd {
	if msg.err != nil {
		m.setStatus(statusErr, "keep: "+msg.err.Error())
		return nil
	}
	owner := m.b.planStep(msg.on)
	if o := m.b.step(msg.on); o != nil && o.kind == recShell {
		owner = m.b.planStep(o.owner)
		msg.on = o.owner
	}
	if owner == nil {
		m.setStatus(statusErr, "keep: the step the shell was opened on is gone (a rebuild started)")
		return nil
	}
	rec := stepRec{kind: recShell, owner: msg.on, info: owner.info, status: statusBuilt, snap: msg.snap,
		runLine: msg.runLine, note: msg.why, seq: 1}
	for _, e := range m.b.extras {
		if e.kind == recShell && e.owner == msg.on {
			rec.seq = max(rec.seq, e.seq+1)
		}
	}
	if msg.snap != nil {
		rec.stats, rec.files, _ = msg.snap.ChangeStats()
		rec.size = rec.stats.Bytes
		if msg.snap.DiffID.Hex != "" {
			rec.diffID = msg.snap.DiffID.String()
		}
	}
	for _, c := range msg.cmds {
		rec.addLog("$ " + c)
	}
	if len(msg.cmds) == 0 {
		rec.addLog("# the shell left no command history (nothing typed, or a shell that does not save HISTFILE)")
	}
	if msg.runLine != "" {
		rec.addLog("")
		rec.addLog("# the RUN line that redoes this in the Dockerfile:")
		for _, l := range strings.Split(msg.runLine, "\n") {
			rec.addLog(l)
		}
	}
	idx := m.b.addExtra(rec)
	m.steps.Select(idx)
	m.setStatus(statusOK, "kept as "+rec.label()+runLineNote(msg.runLine))
	return tea.Batch(m.sync(), m.setTab(tabStep))
}

func runLineNote(l string) string {
	if l == "" {
		return " (no command history: no RUN line to print)"
	}
	return " · " + flatRun(l)
}

// flatRun puts a RUN line with continuations on one line.
func flatRun(l string) string {
	parts := strings.Split(l, "\\\n")
	for i := range parts {
		if i > 0 {
			parts[i] = strings.TrimLeft(parts[i], " \t")
		}
		if i < len(parts)-1 {
			parts[i] = strings.TrimRight(parts[i], " \t")
		}
	}
	return oneLine(strings.Join(parts, " "))
}
