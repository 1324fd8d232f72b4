package event

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/strata-build/strata/layers"
)

// Trace is the --trace FILE document: the build's steps, their phases and
// every process of every RUN as Chrome trace-event JSON (the "JSON Object
// Format" that Perfetto and chrome://tracing open). Process 1 ("build")
// has one track per step: the step as a slice and its phases nested in it
// (phases that ran at once get their own track). Each RUN is a process of
// its own ("RUN step N"), with one track per process it ran.
type Trace struct {
	mu      sync.Mutex
	t0      time.Time
	steps   []StepInfo
	started map[int]time.Time
	events  []TraceEvent
}

// TraceEvent is one trace event ("X": a complete slice, "i": an instant,
// "M": metadata naming a process or thread). Times are in microseconds.
type TraceEvent struct {
	Name  string         `json:"name"`
	Cat   string         `json:"cat,omitempty"`
	Ph    string         `json:"ph"`
	Ts    float64        `json:"ts"`
	Dur   float64        `json:"dur"`
	Pid   int            `json:"pid"`
	Tid   int            `json:"tid"`
	Scope string         `json:"s,omitempty"`
	Args  map[string]any `json:"args,omitempty"`
}

// TraceFile is the whole document.
type TraceFile struct {
	TraceEvents     []TraceEvent `json:"traceEvents"`
	DisplayTimeUnit string       `json:"displayTimeUnit"`
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// Observe takes one build event (use with Executor.Observe).
func (t *Trace) Observe(ev Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev := ev.(type) {
	case PlanReady:
		t.t0, t.steps, t.started, t.events = ev.Time, ev.Steps, map[int]time.Time{}, nil
		t.meta(1, 0, "process_name", "build")
		for _, s := range ev.Steps {
			t.meta(1, s.Index+1, "thread_name", fmt.Sprintf("step %d: %s", s.Index+1, traceClip(s.Text, 60)))
		}
	case StepStarted:
		if _, ok := t.started[ev.Step]; !ok && t.started != nil {
			t.started[ev.Step] = ev.Time
		}
	case StepCached:
		if t.started != nil {
			t.events = append(t.events, TraceEvent{Name: "cached", Cat: "step", Ph: "i", Scope: "t", Ts: micros(ev.Time.Sub(t.t0)), Pid: 1, Tid: ev.Step + 1})
		}
	case StepDone:
		t.step(ev.Step, ev.Time, ev.Duration, ev.Phases, ev.Processes, "")
	case StepFailed:
		t.step(ev.Step, ev.Time, ev.Duration, ev.Phases, ev.Processes, ev.Error)
	}
}

func (t *Trace) meta(pid, tid int, what, name string) {
	t.events = append(t.events, TraceEvent{Name: what, Ph: "M", Pid: pid, Tid: tid, Args: map[string]any{"name": name}})
}

func (t *Trace) step(step int, end time.Time, d time.Duration, phases []Phase, procs []Process, errText string) {
	if t.started == nil {
		return
	}
	start := end.Add(-d)
	base := micros(start.Sub(t.t0))
	name := fmt.Sprintf("step %d", step+1)
	if step < len(t.steps) {
		name = traceClip(t.steps[step].Text, 80)
	}
	args := map[string]any{}
	if errText != "" {
		args["error"] = errText
	}
	tid := step + 1
	t.events = append(t.events, TraceEvent{Name: name, Cat: "step", Ph: "X", Ts: base, Dur: micros(d), Pid: 1, Tid: tid, Args: args})
	// A phase overlapping an earlier one goes on a track of its own, so
	// that every track nests.
	var lanes [][]Phase
	for _, p := range phases {
		lane := -1
		for i, l := range lanes {
			if last := l[len(l)-1]; last.End <= p.Start {
				lane = i
				break
			}
		}
		if lane < 0 {
			lanes = append(lanes, nil)
			lane = len(lanes) - 1
		}
		lanes[lane] = append(lanes[lane], p)
		ptid := tid
		if lane > 0 {
			ptid = 100000 + 1000*lane + tid
			t.meta(1, ptid, "thread_name", fmt.Sprintf("step %d (at once)", step+1))
		}
		a := map[string]any{}
		if p.Detail != "" {
			a["detail"] = p.Detail
		}
		if p.Bytes > 0 {
			a["bytes"] = p.Bytes
		}
		t.events = append(t.events, TraceEvent{Name: p.Name, Cat: "phase", Ph: "X", Ts: base + micros(p.Start), Dur: micros(p.Duration()), Pid: 1, Tid: ptid, Args: a})
	}
	if len(procs) == 0 {
		return
	}
	pid := 2 + step
	t.meta(pid, 0, "process_name", fmt.Sprintf("RUN step %d processes", step+1))
	for _, p := range procs {
		t.meta(pid, p.PID, "thread_name", fmt.Sprintf("%s [%d]", p.Name(), p.PID))
		t.events = append(t.events, TraceEvent{Name: p.Name(), Cat: "process", Ph: "X", Ts: base + micros(p.Start), Dur: micros(p.Duration()), Pid: pid, Tid: p.PID,
			Args: map[string]any{"argv": p.Argv, "ppid": p.PPID, "exit": p.Exit, "user_ms": p.User.Milliseconds(), "system_ms": p.System.Milliseconds(),
				"max_rss": p.MaxRSS, "read_bytes": p.ReadBytes, "write_bytes": p.WriteBytes, "read_chars": p.ReadChars, "write_chars": p.WriteChars}})
	}
}

func traceClip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// WriteTo writes the trace as JSON.
func (t *Trace) WriteTo(w io.Writer) (int64, error) {
	t.mu.Lock()
	f := TraceFile{TraceEvents: t.events, DisplayTimeUnit: "ms"}
	if f.TraceEvents == nil {
		f.TraceEvents = []TraceEvent{}
	}
	b, err := json.Marshal(f)
	t.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(append(b, '\n'))
	return int64(n), err
}

// WriteFile writes the trace to file atomically.
func (t *Trace) WriteFile(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("--trace %s: %w", file, err)
	}
	err := layers.WriteFileAtomic(file, func(w io.Writer) error {
		_, err := t.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("--trace %s: %w", file, err)
	}
	return nil
}
