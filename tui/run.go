package tui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
)

// imageRun is the final image's primary command running (x): its output
// goes to the "run" row's log.
type imageRun struct {
	idx    int // the row
	cancel context.CancelFunc
	ch     chan runEvent
	done   bool
	// stopped: the user stopped it (x again)
	stopped bool
}

// runEvent is one line of the run's output, or its end.
type runEvent struct {
	stream, line string
	end          bool
	code         int
	err          error
}

// runMsg carries a batch of run output.
type runMsg struct {
	ch  chan runEvent
	evs []runEvent
}

func waitRun(ch chan runEvent) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return runMsg{ch: ch}
		}
		evs := []runEvent{ev}
		for len(evs) < maxBatch && !ev.end {
			select {
			case ev, ok = <-ch:
				if !ok {
					return runMsg{ch: ch, evs: evs}
				}
				evs = append(evs, ev)
			default:
				return runMsg{ch: ch, evs: evs}
			}
		}
		return runMsg{ch: ch, evs: evs}
	}
}

// finalConfig is the config of the image the build made: its last step's.
func (b *buildState) finalConfig() *event.Snapshot {
	if b.done == nil || b.done.Error != "" || len(b.steps) == 0 {
		return nil
	}
	s := b.steps[len(b.steps)-1].snap
	if s == nil || s.Config == nil {
		return nil
	}
	return s
}

// runImage starts the final image's primary command (x).
func (m *model) runImage() tea.Cmd {
	switch {
	case m.b.inspecting():
		m.setStatus(statusErr, "x runs the image a build made; use strata run IMAGE for this one")
		return nil
	case m.opt.Backend == nil:
		m.setStatus(statusErr, "running the image is not available here")
		return nil
	case m.run != nil && !m.run.done:
		// x again stops it (a server never ends on its own)
		m.run.stopped = true
		m.run.cancel()
		m.setStatus(statusInfo, "stopping the image's command…")
		return nil
	case m.b.done == nil:
		m.setStatus(statusErr, "x runs the image once the build has finished")
		return nil
	}
	snap := m.b.finalConfig()
	if snap == nil {
		m.setStatus(statusErr, "the build failed: there is no image to run")
		return nil
	}
	argv := primaryCommand(&snap.Config.Config)
	if len(argv) == 0 {
		m.setStatus(statusErr, "the image has no ENTRYPOINT or CMD: nothing to run")
		return nil
	}
	rec := stepRec{kind: recRun, info: event.StepInfo{Text: execForm(argv), Index: -1}, status: statusRunning, started: m.c.now()}
	rec.addLog("$ " + execForm(argv) + "   (the image's primary command, in a temporary container)")
	idx := -1
	for i := range m.b.extras {
		if m.b.extras[i].kind == recRun {
			idx = len(m.b.steps) + i
			m.b.extras[i] = rec
		}
	}
	if idx < 0 {
		idx = m.b.addExtra(rec)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan runEvent, 256)
	m.run = &imageRun{idx: idx, cancel: cancel, ch: ch}
	be, cfg := m.opt.Backend, snap.Config
	go func() {
		defer close(ch)
		code, err := be.RunImage(ctx, cfg, func(stream, line string) {
			select {
			case ch <- runEvent{stream: stream, line: line}:
			case <-ctx.Done():
			}
		})
		end := runEvent{end: true, code: code, err: err}
		select {
		case ch <- end: // (room in the buffer: also after x stopped it)
		default:
			select { // after a cancel (quit) nobody waits for the end
			case ch <- end:
			case <-ctx.Done():
			}
		}
	}()
	m.steps.Select(idx)
	m.setStatus(statusInfo, "running "+execForm(argv)+"… (x stops it)")
	cmds := []tea.Cmd{waitRun(ch), m.sync(), m.setTab(tabLog)}
	if !m.spinning { // the build's spinner has stopped: the run row needs it
		m.spinning = true
		cmds = append(cmds, m.spin.Tick)
	}
	m.logs.follow = true
	return tea.Batch(cmds...)
}

// onRun folds run output in.
func (m *model) onRun(msg runMsg) tea.Cmd {
	if m.run == nil || msg.ch != m.run.ch {
		return nil
	}
	r := m.b.step(m.run.idx)
	for _, ev := range msg.evs {
		if r == nil {
			break
		}
		if !ev.end {
			r.addLog(ev.line)
			continue
		}
		m.run.done = true // RunImage has returned: its container is gone
		m.run.cancel()
		r.duration = m.c.now().Sub(r.started)
		r.exitCode = ev.code
		switch {
		case m.run.stopped:
			// what happened, as docker ps says it: stopped, and the
			// exit status the kill left (137 for SIGKILL)
			r.status, r.stopped, r.err = statusFailed, true, "stopped with x"
			if ev.code != 0 {
				r.err += ", exit code " + itoa(ev.code)
			}
			r.addLog(r.err)
			m.setStatus(statusInfo, "the image's command was "+r.err+"; x runs it again")
		case ev.err != nil:
			r.status, r.err = statusFailed, sanitize(ev.err.Error())
			r.addLog("error: " + r.err)
			m.setStatus(statusErr, "run: "+r.err)
		case ev.code != 0:
			r.status, r.err = statusFailed, "exit code "+itoa(ev.code)
			r.addLog("exit code " + itoa(ev.code))
			m.setStatus(statusErr, "the image's command exited with code "+itoa(ev.code))
		default:
			r.status = statusBuilt
			r.addLog("exit code 0")
			m.setStatus(statusOK, "the image's command exited with code 0")
		}
	}
	cmds := []tea.Cmd{}
	if m.sel == m.run.idx {
		cmds = append(cmds, m.logs.Refresh())
	}
	if len(msg.evs) == 0 { // the channel closed
		m.run.done = true
		m.run.cancel()
		if r != nil && r.status == statusRunning { // its end was dropped
			r.status = statusBuilt
			r.duration = m.c.now().Sub(r.started)
		}
	}
	if m.run.done {
		if m.quitting && m.b.finished() {
			return tea.Quit
		}
		return tea.Batch(cmds...)
	}
	return tea.Batch(append(cmds, waitRun(msg.ch))...)
}

// stopRun cancels a running x; it says whether one was running.
func (m *model) stopRun() bool {
	if m.run == nil || m.run.done {
		return false
	}
	m.run.cancel()
	return true
}

// runElapsed is for the run row while it runs.
func runElapsed(r *stepRec, now time.Time) time.Duration {
	if r.started.IsZero() {
		return 0
	}
	return now.Sub(r.started)
}
