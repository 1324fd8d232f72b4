package tui

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// scriptedBuild plays the executor's side of a paused build: every Next or
// Continue of the fake control releases the events up to the next pause.
type scriptedBuild struct {
	mu     sync.Mutex
	ch     chan event.Event
	stages [][]event.Event // stages[i] is sent on the i-th release
	next   int
}

func newScripted(first []event.Event, rest ...[]event.Event) *scriptedBuild {
	s := &scriptedBuild{ch: make(chan event.Event, 256), stages: rest}
	for _, e := range first {
		s.ch <- e
	}
	return s
}

// release sends the next part of the script (called from Control).
func (s *scriptedBuild) release(call string) {
	if call != "next" && call != "continue" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next >= len(s.stages) {
		return
	}
	for _, e := range s.stages[s.next] {
		s.ch <- e
	}
	s.next++
}

// pausedParts splits the fixture's build at breakpoints: before the RUN
// (line 3, a breakpoint), then step by step before the COPY and the ENV,
// then to the end.
func (f *fixture) pausedParts() ([]event.Event, [][]event.Event) {
	evs := f.events()
	first := append(slices.Clone(evs[:4]), event.Paused{Step: 1, Line: 3, Why: "breakpoint"})
	run := append([]event.Event{event.Resumed{Step: 1}}, evs[4:4+1+len(runLog)+1]...)
	run = append(run, event.Paused{Step: 2, Line: 4, Why: "step"})
	i := 4 + 1 + len(runLog) + 1
	cp := []event.Event{event.Resumed{Step: 2}, evs[i], event.Paused{Step: 3, Line: 5, Why: "step"}}
	end := append([]event.Event{event.Resumed{Step: 3}}, evs[i+1:]...)
	return first, [][]event.Event{run, cp, end}
}

// TestFlowBreakStepContinue: the build stops at the breakpoint on line 3
// (marked in the gutter), n runs one step twice, c runs to the end; b
// sets another breakpoint. The control sees exactly those calls.
func TestFlowBreakStepContinue(t *testing.T) {
	f := newFixture()
	first, rest := f.pausedParts()
	sb := newScripted(first, rest...)
	ctl := newFakeControl(3)
	ctl.on = sb.release
	tm := startFlowOpt(t, Options{Events: sb.ch, Backend: f.be, Control: ctl, Title: "redis-image"}, 120, 36)
	waitText(t, tm, "paused before [2/6] RUN apk add --update redis (breakpoint, line 3)", "n next · c continue · s shell")
	waitModel(t, tm, "breakpoint ● on line 3 and ▶ on the paused step", func(m *model) bool {
		scr := cleanScreen(m.render())
		return strings.Contains(scr, "│3●▶") && strings.Contains(scr, "▶ [2/6] RUN apk add") && m.sel == 1
	})
	tm.Send(keyMsg("n"))
	waitText(t, tm, "paused before [3/6] COPY redis.conf /etc/redis.conf (stepping)")
	tm.Send(keyMsg("n"))
	waitText(t, tm, "paused before [4/6] env REDIS_PORT=6379 (stepping)")
	// a breakpoint on the selected step (the one paused at): line 5
	tm.Send(keyMsg("b"))
	waitText(t, tm, "breakpoint on line 5: the build stops before the step there")
	tm.Send(keyMsg("c"))
	waitText(t, tm, "build complete")
	tm.Send(keyMsg("q"))
	m := finalModel(t, tm)
	if got, want := ctl.callList(), []string{"next", "next", "break 5", "continue"}; !slices.Equal(got, want) {
		t.Errorf("control calls %q, want %q", got, want)
	}
	if m.b.paused != nil {
		t.Errorf("still paused after the build: %+v", m.b.paused)
	}
	if !m.b.breaks[3] || !m.b.breaks[5] {
		t.Errorf("breakpoints %v, want 3 and 5", m.b.breaks)
	}
}

// TestFlowQuitWhilePaused: q on a paused build cancels it through the
// backend; the program ends when the build says it is done.
func TestFlowQuitWhilePaused(t *testing.T) {
	f := newFixture()
	first, _ := f.pausedParts()
	sb := newScripted(first)
	tm := startFlowOpt(t, Options{Events: sb.ch, Backend: f.be, Control: newFakeControl(3)}, 100, 30)
	waitText(t, tm, "paused before [2/6]")
	tm.Send(keyMsg("q"))
	select {
	case <-f.be.canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("q while paused did not cancel the build")
	}
	sb.ch <- event.BuildDone{Error: "build canceled"}
	close(sb.ch)
	m := finalModel(t, tm)
	if !m.quitting {
		t.Error("the program ended without quitting")
	}
}

// failingWithPartial is the failing fixture with a partial result kept.
func (f *fixture) failingWithPartial() []event.Event {
	evs := f.failing()
	for i, e := range evs {
		if sf, ok := e.(event.StepFailed); ok {
			snap := *sf.Snapshot
			snap.UpperDir = "/store/tmp/run-1/upper"
			snap.Layers = f.snaps[0].Layers
			snap.Config = f.snaps[0].Config
			sf.Snapshot = &snap
			evs[i] = sf
		}
	}
	return evs
}

// TestFlowFailedStepOffersShell: a failed step offers s (the state before
// it, the failed command typed at its prompt) and p (its partial
// result); a shell that changed something asks whether to keep it.
func TestFlowFailedStepOffersShell(t *testing.T) {
	f := newFixture()
	f.be.shellFn = func(sh *fakeShell) {
		if !sh.opt.Partial {
			sh.changes = []layers.Change{{Path: "/etc/apk/repositories", Kind: layers.Added, Type: layers.TypeRegular, Size: 10}}
		}
	}
	tm := startFlow(t, f.be, feed(f.failingWithPartial(), false), 120, 50)
	waitText(t, tm, "build failed", "s opens a shell on the state before this step", "p opens a shell on what the failed command left")
	waitText(t, tm, "s shell • p shell on partial")
	tm.Send(keyMsg("s"))
	waitText(t, tm, "keep the shell's changes as a step? y/N · 1 file changed (+1 ~0 -0)")
	tm.Send(keyMsg("n"))
	waitText(t, tm, "the shell's changes were thrown away")
	tm.Send(keyMsg("p"))
	waitText(t, tm, "shell closed: it changed no file, nothing to keep")
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
	shells := f.be.shellCalls()
	if len(shells) != 2 {
		t.Fatalf("%d shells opened, want 2", len(shells))
	}
	before, partial := shells[0], shells[1]
	if before.snap.UpperDir != "" || before.opt.Partial || before.opt.Failed != "/bin/sh -c apk add --update rediss" {
		t.Errorf("s opened on upper %q partial %v failed %q; want the state before, with the failed command",
			before.snap.UpperDir, before.opt.Partial, before.opt.Failed)
	}
	if !strings.Contains(before.opt.Title, "before failed step [2/6]") {
		t.Errorf("s title %q", before.opt.Title)
	}
	if partial.snap.UpperDir == "" || !partial.opt.Partial {
		t.Errorf("p opened on upper %q partial %v; want the partial result", partial.snap.UpperDir, partial.opt.Partial)
	}
	for i, sh := range shells {
		if !sh.ran || !sh.discarded || sh.kept {
			t.Errorf("shell %d: ran %v discarded %v kept %v", i, sh.ran, sh.discarded, sh.kept)
		}
	}
}

// TestFlowKeepAsStep: a shell's change kept with y becomes a row under the
// step, inspectable like a step, with the RUN line that redoes it.
func TestFlowKeepAsStep(t *testing.T) {
	f := newFixture()
	f.be.shellFn = func(sh *fakeShell) {
		sh.cmds = []string{"apk add redis-tools", "rm -rf /var/cache/apk/*"}
		sh.changes = []layers.Change{
			{Path: "/usr/bin/redis-benchmark", Kind: layers.Added, Type: layers.TypeRegular, Size: 4096, Mode: 0o755},
		}
	}
	tm := startFlow(t, f.be, feed(f.events(), false), 120, 36)
	waitText(t, tm, "build complete")
	for range 4 {
		tm.Send(keyMsg("up"))
	}
	waitText(t, tm, "[2/6] RUN apk add --update redis")
	tm.Send(keyMsg("s"))
	waitText(t, tm, "keep the shell's changes as a step? y/N", "RUN apk add redis-tools && rm -rf /var/cache/apk/*")
	tm.Send(keyMsg("y"))
	waitText(t, tm, "$ [2/6]+ shell", "The RUN line that would redo it in the Dockerfile:", "RUN apk add redis-tools && \\", "    rm -rf /var/cache/apk/*")
	tm.Send(keyMsg("3"))
	waitText(t, tm, "redis-benchmark")
	tm.Send(keyMsg("5"))
	waitText(t, tm, "Primary command")
	tm.Send(keyMsg("1"))
	waitText(t, tm, "$ apk add redis-tools", "# the RUN line that redoes this in the Dockerfile:")
	tm.Send(keyMsg("q"))
	m := finalModel(t, tm)
	r := m.b.step(m.sel)
	if r == nil || r.kind != recShell || r.owner != 1 || r.snap == nil || r.snap.Parent != f.snaps[1] {
		t.Fatalf("selected row %+v, want the kept shell under step 1", r)
	}
	if order := m.b.order(); !slices.Equal(order, []int{0, 1, 6, 2, 3, 4, 5}) {
		t.Errorf("row order %v: the kept shell belongs right under its step", order)
	}
	if sh := f.be.shellCalls(); len(sh) != 1 || !sh[0].kept || sh[0].snap != f.snaps[1] {
		t.Errorf("shells %+v", sh)
	}
}

// rebuild is a second build of the fixture: the RUN step slower and
// bigger, the rest cached; it also registers the comparison of the RUN
// step's two snapshots.
func (f *fixture) rebuild() []event.Event {
	s1 := *f.snaps[1]
	s1.DiffID = hash("layer1b")
	s1.Layers = []v1.Hash{hash("layer0"), s1.DiffID}
	s1.Changes = append(slices.Clone(s1.Changes), layers.Change{Path: "/usr/bin/redis-check-aof", Kind: layers.Added, Type: layers.TypeRegular, Size: 340_000, Mode: 0o755})
	f.be.compare[[2]*event.Snapshot{f.snaps[1], &s1}] = []layers.Change{s1.Changes[len(s1.Changes)-1]}
	plan := f.plan
	plan.Steps = slices.Clone(plan.Steps)
	evs := []event.Event{
		plan,
		event.StepCached{Step: 0, Key: digest("key0"), ImageID: digest("img0"), DiffID: f.snaps[0].DiffID.String(), Size: 7_800_000, Files: 11, Snapshot: f.snaps[0]},
		event.StepStarted{Step: 1, Container: "aa11bb22cc33dd44"},
		event.StepLog{Step: 1, Stream: "info", Line: "cache miss: the build context changed: redis.conf"},
		event.StepDone{Step: 1, ImageID: digest("img1b"), DiffID: s1.DiffID.String(), Size: 1_908_817 + 340_000, Files: 8, Stats: layers.Stats(s1.Changes),
			Duration: 3500 * time.Millisecond, Reason: "rebuilt without cache from step 2/6 (RUN apk add --update redis)", Snapshot: &s1},
	}
	evs = append(evs, event.StepCached{Step: 2, Key: digest("key2"), ImageID: digest("img2b"), DiffID: f.snaps[2].DiffID.String(), Size: 40, Files: 1, Snapshot: f.snaps[2]})
	for i := 3; i < 6; i++ {
		evs = append(evs, event.StepCached{Step: i, Key: digest("key" + itoa(i)), ImageID: digest("img" + itoa(i) + "b"), Snapshot: f.snaps[i]})
	}
	return append(evs, event.BuildDone{ImageID: digest("img5b"), Size: 10_048_857, Layers: 3, Duration: 3700 * time.Millisecond, Cached: 5, Built: 1})
}

// TestFlowRebuildDeltas: R on the RUN step asks for a rebuild without
// cache from it; the new build resets the panes, keeps the selection on
// the step, shows what got slower and bigger, and M compares the step
// with its previous build.
func TestFlowRebuildDeltas(t *testing.T) {
	f := newFixture()
	ch := make(chan event.Event, 256)
	for _, e := range f.events() {
		ch <- e
	}
	var mu sync.Mutex
	var asked []int
	rebuild := func(n int) {
		mu.Lock()
		asked = append(asked, n)
		mu.Unlock()
		for _, e := range f.rebuild() {
			ch <- e
		}
	}
	tm := startFlowOpt(t, Options{Events: ch, Backend: f.be, Rebuild: rebuild}, 120, 36)
	waitText(t, tm, "build complete")
	for range 4 {
		tm.Send(keyMsg("up"))
	}
	waitText(t, tm, "[2/6] RUN apk add --update redis")
	tm.Send(keyMsg("R"))
	waitText(t, tm, "Steps 6/6 · build 2", "2.2 MB +340.0 kB", "3.5s +1.2s")
	waitModel(t, tm, "selection kept on the RUN step", func(m *model) bool { return m.sel == 1 && m.b.builds == 2 })
	waitText(t, tm, "↳ rebuilt: rebuilt without cache from step 2/6")
	tm.Send(keyMsg("7"))
	waitText(t, tm, "against the previous build:", "3.6s → 3.7s (+0.1s)", "slower +1.2s, bigger +340.0 kB [2/6] RUN apk add --update redis")
	tm.Send(keyMsg("M"))
	waitText(t, tm, "A previous build [2/6] RUN apk add --update redis", "B this build [2/6] RUN apk add --update redis",
		"time 2.3s → 3.5s (+1.2s)", "redis-check-aof")
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(asked, []int{1}) {
		t.Errorf("Rebuild calls %v, want [1] (no cache from the RUN step)", asked)
	}
}

// TestCompareGolden renders the Compare tab: the RUN step's snapshot
// against the ENV step's (files and config differ).
func TestCompareGolden(t *testing.T) {
	f := newFixture()
	f.be.compare[[2]*event.Snapshot{f.snaps[1], f.snaps[3]}] = f.snaps[2].Changes
	for _, sz := range []size{{80, 24}, {120, 40}} {
		t.Run(sz.String(), func(t *testing.T) {
			m := newTestModel(t, f.be, sz.w, sz.h, f.events()...)
			press(t, m, "up", "up", "up", "up", "m")
			if !strings.Contains(cleanScreen(m.render()), "◆") {
				t.Error("the marked step shows no ◆")
			}
			press(t, m, "down", "down", "=")
			out := m.render()
			requireGolden(t, "screen-compare-"+sz.String(), out)
			checkShape(t, out, sz)
			scr := cleanScreen(out)
			for _, want := range []string{"A [2/6] RUN apk add --update redis", "B [4/6] env REDIS_PORT=6379", "+ Env REDIS_PORT", "redis.conf"} {
				if !strings.Contains(scr, want) {
					t.Errorf("compare view lacks %q", want)
				}
			}
			// the file opens diffed against A, and esc goes back to Compare
			press(t, m, "down", "enter")
			if m.tab != tabFile || !strings.Contains(m.file.head, "added in this comparison") {
				t.Errorf("tab %s head %q", tabNames[m.tab], m.file.head)
			}
			press(t, m, "esc")
			if m.tab != tabCompare {
				t.Errorf("esc went to %s, want Compare", tabNames[m.tab])
			}
		})
	}
}

// TestDebugScreens renders the paused and the rebuilt screens.
func TestDebugScreens(t *testing.T) {
	f := newFixture()
	first, _ := f.pausedParts()
	for _, sz := range []size{{80, 24}, {120, 40}} {
		t.Run("paused/"+sz.String(), func(t *testing.T) {
			m := newModel(Options{Backend: f.be, Control: newFakeControl(3), Title: "redis-image"})
			m.c.now = func() time.Time { return t0.Add(1500 * time.Millisecond) }
			settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: sz.w, Height: sz.h} })
			settle(t, m, func() tea.Msg { return eventsMsg{evs: first} })
			out := m.render()
			requireGolden(t, "screen-paused-"+sz.String(), out)
			checkShape(t, out, sz)
		})
		t.Run("rebuilt/"+sz.String(), func(t *testing.T) {
			evs := append(f.events(), f.rebuild()...)
			m := newTestModel(t, f.be, sz.w, sz.h, evs...)
			press(t, m, "up", "up", "up", "up")
			out := m.render()
			requireGolden(t, "screen-rebuilt-"+sz.String(), out)
			checkShape(t, out, sz)
		})
	}
}

// TestBreakOnNonInstruction: b on a comment line says why it does nothing.
func TestBreakOnNonInstruction(t *testing.T) {
	f := newFixture()
	ctl := newFakeControl()
	m := newModel(Options{Backend: f.be, Control: ctl})
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: f.events()} })
	press(t, m, "shift+tab", "g", "b") // the Dockerfile pane, line 1 (# syntax=…)
	if len(ctl.callList()) != 0 || !strings.Contains(m.status, "line 1 is not part of an instruction") {
		t.Errorf("calls %v status %q", ctl.callList(), m.status)
	}
	press(t, m, "j", "j", "b") // line 3: the RUN
	if got := ctl.callList(); !slices.Equal(got, []string{"break 3"}) || !m.b.breaks[3] {
		t.Errorf("calls %v breaks %v", got, m.b.breaks)
	}
	if !strings.Contains(cleanScreen(m.render()), "│3●") {
		t.Error("no breakpoint in the gutter of line 3")
	}
}

// TestDebugNoColor: the debugger's screens (paused with a breakpoint, a
// kept shell row, a mark, the Compare tab) use no colour under NO_COLOR,
// and their marks still show.
func TestDebugNoColor(t *testing.T) {
	colour := regexp.MustCompile("\x1b\\[[0-9;:]*(3[0-8]|4[0-8]|9[0-7]|10[0-7])[;:m]")
	f := newFixture()
	f.be.compare[[2]*event.Snapshot{f.snaps[1], f.snaps[3]}] = f.snaps[2].Changes
	first, _ := f.pausedParts()
	m := newModel(Options{Backend: f.be, Control: newFakeControl(3), NoColor: true})
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: first} })
	check := func(what string, want ...string) {
		t.Helper()
		out := m.render()
		if c := colour.FindString(out); c != "" {
			t.Errorf("%s: colour escape %q under NO_COLOR", what, c)
		}
		for _, w := range want {
			if !strings.Contains(cleanScreen(out), w) {
				t.Errorf("%s: screen lacks %q", what, w)
			}
		}
	}
	check("paused", "3●▶", "▶ paused before [2/6]")
	settle(t, m, func() tea.Msg { return eventsMsg{evs: f.events()[4:]} })
	press(t, m, "up", "up", "up", "up", "m")
	check("marked", "◆")
	press(t, m, "down", "down", "=")
	check("compare", "A [2/6] RUN apk add --update redis", "+ Env REDIS_PORT")
}

// TestPauseKey: P asks a running build to pause before its next step; n
// and c do nothing to the build unless it is paused (n is the log's next
// match then).
func TestPauseKey(t *testing.T) {
	f := newFixture()
	ctl := newFakeControl()
	m := newModel(Options{Backend: f.be, Control: ctl})
	settle(t, m, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	settle(t, m, func() tea.Msg { return eventsMsg{evs: f.running()} })
	press(t, m, "c", "n", "P")
	if got := ctl.callList(); !slices.Equal(got, []string{"pause"}) {
		t.Errorf("control calls %v, want [pause]", got)
	}
	if !strings.Contains(m.status, "pausing before the next step") {
		t.Errorf("status %q", m.status)
	}
}

// TestRebuildInOneBatch: one batch holding a build's end and the next
// build's start (a quick rebuild) leaves the new build running.
func TestRebuildInOneBatch(t *testing.T) {
	f := newFixture()
	evs := append(f.events(), f.rebuild()[:3]...)
	m := newTestModel(t, f.be, 100, 30, evs...)
	if m.b.builds != 2 || m.b.done != nil || m.b.prev == nil || m.b.running != 1 {
		t.Errorf("builds %d done %v prev %v running %d", m.b.builds, m.b.done, m.b.prev != nil, m.b.running)
	}
	if !strings.Contains(cleanScreen(m.render()), "Steps 1/6 · build 2") {
		t.Errorf("screen:\n%s", cleanScreen(m.render()))
	}
}

// newPausedModel is the fixture's build paused at the breakpoint on line
// 3, with a fake control, sized w×h.
func newPausedModel(t *testing.T, w, h int) (*model, *fixture, *fakeControl) {
	t.Helper()
	f := newFixture()
	first, _ := f.pausedParts()
	ctl := newFakeControl(3)
	m := newModel(Options{Backend: f.be, Control: ctl, Title: "redis-image"})
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
	m := newModel(Options{Backend: newFakeBackend(), Control: ctl})
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
