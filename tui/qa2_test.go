package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// newPausedModel is the fixture's build paused at the breakpoint on line
// 3, with a fake control, sized w×h.
func newPausedModel(t *testing.T, w, h int) (*Model, *fixture, *fakeControl) {
	t.Helper()
	f := newFixture()
	first, _ := f.pausedParts()
	ctl := newFakeControl(3)
	m := New(Options{Backend: f.be, Control: ctl, Title: "redis-image"})
	m.c.now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: w, Height: h} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: first} })
	return m, f, ctl
}

// TestFullHelpWhilePausedQA: ? while paused shows every row of the full
// help; the pause banner took the place of its first row, hiding "tab
// next pane", "n next step" and "x run image".
func TestFullHelpWhilePausedQA(t *testing.T) {
	m, _, _ := newPausedModel(t, 100, 30)
	press(t, m, "?")
	scr := ansi.Strip(m.render())
	for _, want := range []string{"paused before [2/6]", "tab", "next pane", "n", "next step", "c", "continue"} {
		if !strings.Contains(scr, want) {
			t.Errorf("full help while paused lacks %q:\n%s", want, scr)
		}
	}
	if got := len(strings.Split(scr, "\n")); got != 30 {
		t.Errorf("screen has %d lines, want 30", got)
	}
}

// TestLongStatusWrapsQA: a status longer than the terminal is wrapped
// onto more rows instead of being cut ("…" hid the advice at 80 columns).
func TestLongStatusWrapsQA(t *testing.T) {
	m, _, _ := newPausedModel(t, 80, 24)
	press(t, m, "shift+tab") // the Dockerfile pane
	press(t, m, "g", "b")    // line 1 is a comment
	scr := ansi.Strip(m.render())
	flat := strings.Join(strings.Fields(scr), " ")
	if want := "line 1 is not part of an instruction: no step stops there; put the breakpoint on a step's line"; !strings.Contains(flat, want) {
		t.Errorf("the status is not shown whole:\n%s", scr)
	}
	lines := strings.Split(scr, "\n")
	if len(lines) != 24 {
		t.Errorf("screen has %d lines, want 24", len(lines))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != 80 {
			t.Errorf("line %d is %d wide: %q", i, w, l)
		}
	}
	press(t, m, "j") // the status goes with the next key: the panes grow back
	if got := len(strings.Split(ansi.Strip(m.render()), "\n")); got != 24 {
		t.Errorf("after the status: %d lines, want 24", got)
	}
}

var _ = event.Paused{}

// TestFlowRunImageStopQA: x while the image's command runs (a server that
// never ends) stops it and the TUI stays; before, x only said "running
// already" and the only way out was to quit strata.
func TestFlowRunImageStopQA(t *testing.T) {
	f := newFixture()
	f.be.runGate = make(chan struct{}) // never opened: runs until stopped
	tm := startFlow(t, f.be, feed(f.events(), false), 100, 30)
	waitText(t, tm, "build complete")
	tm.Send(keyMsg("x"))
	waitModel(t, tm, "the run started", func(m *Model) bool { return m.run != nil && !m.run.done })
	waitText(t, tm, "x stop")
	tm.Send(keyMsg("x"))
	waitModel(t, tm, "x to stop the run", func(m *Model) bool {
		r := m.b.step(m.run.idx)
		return m.run.done && r != nil && r.status != statusRunning && !m.quitting
	})
	waitText(t, tm, "stopped")
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
}

// TestBreakOnContinuationLineQA: a step stops on a breakpoint on any line
// of its instruction, so b on that step clears it (it set a second one on
// the first line, and the step kept stopping); b on a continuation line
// sets the breakpoint on the instruction's first line, where the pause
// banner names it.
func TestBreakOnContinuationLineQA(t *testing.T) {
	src := "FROM alpine\nRUN echo a && \\\n    echo b\nCMD [\"sh\"]\n"
	run := step(1, 3, "RUN", "RUN echo a &&     echo b", 2, false)
	run.EndLine = 3
	plan := event.PlanReady{Dockerfile: "Dockerfile", Source: []byte(src), Stages: []string{"base"}, Steps: []event.StepInfo{
		step(0, 3, "FROM", "FROM alpine", 1, false), run, step(2, 3, "CMD", `CMD ["sh"]`, 4, true)}}
	ctl := newFakeControl(3) // --break 3: the RUN's second line
	m := New(Options{Backend: newFakeBackend(), Control: ctl})
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: []event.Event{plan, event.StepStarted{Step: 0}}} })
	m.steps.Select(1)
	settle(t, m, m.sync())
	press(t, m, "b") // the Steps pane: the RUN step
	if got := ctl.Breakpoints(); len(got) != 0 {
		t.Fatalf("b on the step with a breakpoint on its line 3 left %v, want none", got)
	}
	press(t, m, "b")
	if got := ctl.Breakpoints(); !slices.Equal(got, []int{2}) {
		t.Fatalf("b on the step set %v, want [2]", got)
	}
	press(t, m, "shift+tab", "g", "j", "j", "b") // the Dockerfile pane, line 3
	if got := ctl.Breakpoints(); len(got) != 0 {
		t.Fatalf("b on line 3 of the step left %v, want none", got)
	}
	press(t, m, "b")
	if got := ctl.Breakpoints(); !slices.Equal(got, []int{2}) {
		t.Fatalf("b on line 3 set %v, want [2] (the instruction's first line)", got)
	}
}

// TestShellAcrossRebuildQA: a shell opened on build 1's RUN step, closed
// after a rebuild (a saved file) replaced that build, is not kept under
// build 2's RUN step: its files came from the old snapshot.
func TestShellAcrossRebuildQA(t *testing.T) {
	f := newFixture()
	f.be.shellFn = func(sh *fakeShell) {
		sh.cmds = []string{"touch /x"}
		sh.changes = []layers.Change{{Path: "/x", Kind: layers.Added, Type: layers.TypeRegular}}
	}
	m := newTestModel(t, f.be, 100, 30, f.events()...)
	m.steps.Select(1)
	settle(t, m, m.sync())
	if m.openShell(false) == nil {
		t.Fatalf("no shell: %s", m.status)
	}
	sh := f.be.shellCalls()[0]
	exited := m.shellExit(sh, 1, "the snapshot after [2/6]")
	settle(t, m, func() tea.Msg { return eventsMsg{evs: f.rebuild()} })
	settle(t, m, func() tea.Msg { return exited(nil) })
	if m.ask != nil {
		press(t, m, "y")
	}
	if sh.kept || !sh.discarded {
		t.Errorf("kept %v discarded %v, want the change thrown away", sh.kept, sh.discarded)
	}
	for _, r := range m.b.extras {
		if r.kind == recShell {
			t.Errorf("a shell row %s was added to build 2", r.label())
		}
	}
	if !strings.Contains(m.status, "rebuild") || !strings.Contains(m.status, "RUN touch /x") {
		t.Errorf("status %q does not say why nor give the RUN line", m.status)
	}
}

// TestKeepPromptAcrossRebuildQA: y on the keep prompt after a rebuild
// began (the prompt waited) does not keep the change under build 2.
func TestKeepPromptAcrossRebuildQA(t *testing.T) {
	f := newFixture()
	f.be.shellFn = func(sh *fakeShell) {
		sh.cmds = []string{"touch /x"}
		sh.changes = []layers.Change{{Path: "/x", Kind: layers.Added, Type: layers.TypeRegular}}
	}
	m := newTestModel(t, f.be, 100, 30, f.events()...)
	m.steps.Select(1)
	settle(t, m, m.sync())
	m.openShell(false)
	sh := f.be.shellCalls()[0]
	settle(t, m, func() tea.Msg { return m.shellExit(sh, 1, "the snapshot after [2/6]")(nil) })
	if m.ask == nil {
		t.Fatal("no keep prompt")
	}
	settle(t, m, func() tea.Msg { return eventsMsg{evs: f.rebuild()} })
	press(t, m, "y")
	if sh.kept || !sh.discarded {
		t.Errorf("kept %v discarded %v, want the change thrown away", sh.kept, sh.discarded)
	}
}

// TestTwoShellsOnOneStepQA: two shells kept under one step have labels
// that tell them apart (both were "[2/6]+ shell": a comparison of the two
// read "A [2/6]+ shell / B [2/6]+ shell").
func TestTwoShellsOnOneStepQA(t *testing.T) {
	f := newFixture()
	f.be.shellFn = func(sh *fakeShell) {
		sh.cmds = []string{"touch /x"}
		sh.changes = []layers.Change{{Path: "/x", Kind: layers.Added, Type: layers.TypeRegular}}
	}
	m := newTestModel(t, f.be, 100, 30, f.events()...)
	m.steps.Select(1)
	settle(t, m, m.sync())
	var labels []string
	for i := 0; i < 2; i++ {
		m.openShell(false) // on the RUN step, then on the shell kept on it
		sh := f.be.shellCalls()[i]
		settle(t, m, func() tea.Msg { return m.shellExit(sh, m.sel, "x")(nil) })
		press(t, m, "y")
		labels = append(labels, m.b.step(m.sel).label())
	}
	if labels[0] == labels[1] {
		t.Errorf("two kept shells are both %q", labels[0])
	}
	if labels[0] != "[2/6]+ shell" {
		t.Errorf("the first kept shell is %q, want [2/6]+ shell", labels[0])
	}
}

// TestDeletedFileQA: the File tab shows a deleted file's old lines as
// removed (they showed as "+" lines, as if added), and a deleted symlink
// as deleted (it showed "symbolic link →" and no target).
func TestDeletedFileQA(t *testing.T) {
	f := newFixture()
	s1 := f.snaps[1] // its parent has /etc/passwd
	head, rows := loadFile(f.be, s1, layers.Change{Path: "/etc/passwd", Kind: layers.Deleted, Type: layers.TypeRegular}, "", nil, "")
	if head != "deleted" {
		t.Errorf("head %q, want deleted", head)
	}
	var minus, plus int
	for _, r := range rows {
		switch r.op {
		case '-':
			minus++
			if r.text != "root:x:0:0:root:/root:/bin/sh" {
				t.Errorf("removed line %q", r.text)
			}
		case '+':
			plus++
		}
	}
	if minus != 1 || plus != 0 {
		t.Errorf("%d removed and %d added lines, want 1 and 0: %+v", minus, plus, rows)
	}
	head, rows = loadFile(f.be, s1, layers.Change{Path: "/bin/sh", Kind: layers.Deleted, Type: layers.TypeSymlink}, "", nil, "")
	if head != "deleted" || len(rows) == 0 || strings.Contains(rows[0].text, "→") {
		t.Errorf("deleted symlink: head %q rows %+v", head, rows)
	}
}
