package tui

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/strata-build/strata/build/event"
)

// startFlow runs the whole program on a scripted event channel.
func startFlow(t *testing.T, be Backend, events <-chan event.Event, w, h int) *teatest.TestModel {
	t.Helper()
	return startFlowOpt(t, Options{Events: events, Backend: be, Title: "redis-image"}, w, h)
}

func startFlowOpt(t *testing.T, opt Options, w, h int) *teatest.TestModel {
	t.Helper()
	m := newModel(opt)
	m.c.now = func() time.Time { return t0 }
	return teatest.NewTestModel(t, probe{m}, teatest.WithInitialTermSize(w, h))
}

// probe wraps the model so that a test can look at it from the program's
// own goroutine (no data race, no guessing from the byte stream).
type probe struct{ *model }

// probeMsg runs f on the model inside Update.
type probeMsg struct{ f func(m *model) }

func (p probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if pm, ok := msg.(probeMsg); ok {
		pm.f(p.model)
		return p, nil
	}
	_, cmd := p.model.Update(msg)
	return p, cmd
}

// waitModel waits until cond holds on the model, asked in its goroutine.
// The terminal output is a stream of screen differences (a word may be
// drawn in pieces around cursor moves), so the screen is read from the
// model's own render, never searched for in the bytes written.
func waitModel(t *testing.T, tm *teatest.TestModel, what string, cond func(m *model) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	type answer struct {
		ok     bool
		screen string
	}
	var last string
	for {
		ch := make(chan answer, 1)
		tm.Send(probeMsg{f: func(m *model) { ch <- answer{cond(m), cleanScreen(m.render())} }})
		select {
		case a := <-ch:
			if a.ok {
				return
			}
			last = a.screen
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s; screen:\n%s", what, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitText waits until the screen contains all of texts.
func waitText(t *testing.T, tm *teatest.TestModel, texts ...string) {
	t.Helper()
	waitModel(t, tm, fmt.Sprintf("screen showing %q", texts), func(m *model) bool {
		s := ansi.Strip(m.render())
		for _, x := range texts {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	})
}

func feed(evs []event.Event, closeIt bool) <-chan event.Event {
	ch := make(chan event.Event, len(evs))
	for _, e := range evs {
		ch <- e
	}
	if closeIt {
		close(ch)
	}
	return ch
}

func finalModel(t *testing.T, tm *teatest.TestModel) *model {
	t.Helper()
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(probe).model
}

func TestFlowBuildToEnd(t *testing.T) {
	f := newFixture()
	tm := startFlow(t, f.be, feed(f.events(), true), 100, 30)
	waitText(t, tm, "build complete", "1 of 6 steps from cache")
	tm.Send(keyMsg("q"))
	m := finalModel(t, tm)
	if m.b.done == nil || m.b.done.ImageID != digest("img5") {
		t.Fatalf("build not recorded as done: %+v", m.b.done)
	}
	for i := range m.b.steps {
		if st := m.b.steps[i].status; st != statusBuilt && st != statusCached {
			t.Errorf("step %d is %s", i, st)
		}
	}
	if f.be.cancels != 0 {
		t.Errorf("Cancel called %d times after the build ended", f.be.cancels)
	}
}

func TestFlowOpenFileDiff(t *testing.T) {
	f := newFixture()
	tm := startFlow(t, f.be, feed(f.events(), true), 100, 30)
	waitText(t, tm, "build complete")
	// select the RUN step in the step tree, open its Files tab
	for range 4 {
		tm.Send(keyMsg("up"))
	}
	tm.Send(keyMsg("3"))
	waitText(t, tm, "redis.conf.default")
	tm.Send(keyMsg("/"))
	tm.Type("world")
	waitText(t, tm, "/world")
	tm.Send(keyMsg("enter"))
	waitText(t, tm, "world")
	tm.Send(keyMsg("enter"))
	waitText(t, tm, "diff against the parent snapshot", "@@ -1,2 +1,3 @@", "+redis")
	tm.Send(keyMsg("q"))
	m := finalModel(t, tm)
	if m.tab != tabFile || m.file.path != "/etc/apk/world" {
		t.Errorf("tab %v, file %q", tabNames[m.tab], m.file.path)
	}
}

func TestFlowFailedStep(t *testing.T) {
	f := newFixture()
	tm := startFlow(t, f.be, feed(f.failing(), true), 100, 30)
	waitText(t, tm, "build failed", "exit code", "rediss (no such package)")
	tm.Send(keyMsg("q"))
	m := finalModel(t, tm)
	if m.sel != 1 || m.b.steps[1].status != statusFailed {
		t.Errorf("selected %d, RUN step %s", m.sel, m.b.steps[1].status)
	}
	if got := m.b.steps[1].last; len(got) != 2 {
		t.Errorf("last lines %q", got)
	}
}

func TestFlowParseError(t *testing.T) {
	tm := startFlow(t, newFakeBackend(), feed(parseError(), true), 80, 24)
	waitText(t, tm, "COPPY a b", "unknown instruction")
	tm.Send(keyMsg("q"))
	finalModel(t, tm)
}

// TestFlowCancel: q during a build cancels it through the backend and the
// program waits for BuildDone before it exits.
func TestFlowCancel(t *testing.T) {
	f := newFixture()
	ch := make(chan event.Event, 64)
	for _, e := range f.running() {
		ch <- e
	}
	tm := startFlow(t, f.be, ch, 100, 30)
	waitText(t, tm, "Executing redis-7.2.5-r0.pre-install")
	tm.Send(keyMsg("q"))
	select {
	case <-f.be.canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("Backend.Cancel was not called")
	}
	waitText(t, tm, "cancelling")
	// the build notices the cancel and ends
	ch <- event.StepFailed{Step: 1, Error: "canceled", Duration: time.Second}
	ch <- event.BuildDone{Error: "build canceled", Duration: 2 * time.Second}
	close(ch)
	m := finalModel(t, tm)
	if !m.quitting || m.b.done == nil {
		t.Errorf("quitting %v, done %+v", m.quitting, m.b.done)
	}
	if f.be.cancels != 1 {
		t.Errorf("Cancel called %d times", f.be.cancels)
	}
}

// TestFlowResize: a resize re-lays out; a too small terminal shows a message.
func TestFlowResize(t *testing.T) {
	f := newFixture()
	tm := startFlow(t, f.be, feed(f.events(), true), 80, 24)
	waitText(t, tm, "build complete")
	tm.Send(tea.WindowSizeMsg{Width: 40, Height: 10})
	waitText(t, tm, "terminal too small")
	tm.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	waitText(t, tm, "7 Summary")
	tm.Send(keyMsg("ctrl+c"))
	out, _ := io.ReadAll(tm.FinalOutput(t, teatest.WithFinalTimeout(5*time.Second)))
	_ = out
}
