package build

import (
	"strings"
	"sync"
	"time"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/sandbox"
)

// NoProcessTraceEnv, set to anything, turns off the recording of a RUN's
// processes (to measure what it costs).
const NoProcessTraceEnv = "STRATA_NO_PROCESS_TRACE"

// ranContainer records the container's phases, from the call to the
// sandbox (start) to its return (end): with the processes recorded, the
// setup up to the command's exec, the command, and the teardown after its
// exit; without, one "container" phase.
func (r *stepRun) ranContainer(start, end time.Time, tr *sandbox.Trace) {
	if tr == nil || len(tr.Processes) == 0 || tr.Processes[0].PPID != 0 || tr.Processes[0].End.IsZero() {
		detail := ""
		switch {
		case tr == nil:
			detail = "processes not recorded: " + NoProcessTraceEnv + " is set"
		case tr.Err != nil:
			detail = "processes not recorded: " + tr.Err.Error()
		}
		r.phaseAt("container", start, end, detail)
		return
	}
	cmd := tr.Processes[0]
	r.phaseAt("setup", start, cmd.Start, "")
	detail := ""
	if tr.MemoryPeak > 0 {
		detail = "peak memory " + event.HumanSize(tr.MemoryPeak) + " (its cgroup's, page cache included)"
	}
	r.phaseAt("command", cmd.Start, cmd.End, detail)
	r.phaseAt("teardown", cmd.End, end, "")
	procs := make([]event.Process, len(tr.Processes))
	for i, p := range tr.Processes {
		ep := event.Process{PID: p.PID, PPID: p.PPID, Argv: p.Argv, Forked: p.Forked, Before: p.Before, Start: p.Start.Sub(r.t0), Exit: p.Exit,
			User: p.User, System: p.System, MaxRSS: p.MaxRSS, ReadBytes: p.ReadBytes, WriteBytes: p.WriteBytes,
			ReadChars: p.ReadChars, WriteChars: p.WriteChars}
		if p.End.IsZero() {
			ep.End = end.Sub(r.t0)
		} else {
			ep.End = p.End.Sub(r.t0)
		}
		if !p.Exec.IsZero() {
			ep.Exec = p.Exec.Sub(r.t0)
		}
		procs[i] = ep
	}
	r.mu.Lock()
	r.processes = procs
	r.mu.Unlock()
}

// pullMeter adds up what a step downloads (StepProgress "pull sha256:…",
// not the layers already stored or the unpacking), for its pull phase.
type pullMeter struct {
	mu   sync.Mutex
	done map[int]map[string]int64 // step → layer → bytes
}

func (m *pullMeter) note(p event.StepProgress) {
	if !strings.HasPrefix(p.What, "pull ") || strings.Contains(p.What, "(") {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		m.done = map[int]map[string]int64{}
	}
	if m.done[p.Step] == nil {
		m.done[p.Step] = map[string]int64{}
	}
	m.done[p.Step][p.What] = max(m.done[p.Step][p.What], p.Done)
}

// phase is the FROM step's phase from start to end: "pull" with the bytes
// downloaded, or "resolve" when the image was at hand.
func (m *pullMeter) phase(step int, start, end time.Duration) []event.Phase {
	m.mu.Lock()
	var n int64
	for _, b := range m.done[step] {
		n += b
	}
	delete(m.done, step)
	m.mu.Unlock()
	if n == 0 {
		return []event.Phase{{Name: "resolve", Start: start, End: end}}
	}
	return []event.Phase{{Name: "pull", Start: start, End: end, Bytes: n}}
}
