package build

import (
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
		if tr != nil && tr.Err != nil {
			detail = "processes not recorded: " + tr.Err.Error()
		}
		r.phaseAt("container", start, end, detail)
		return
	}
	cmd := tr.Processes[0]
	r.phaseAt("setup", start, cmd.Start, "")
	r.phaseAt("command", cmd.Start, cmd.End, "")
	r.phaseAt("teardown", cmd.End, end, "")
	procs := make([]event.Process, len(tr.Processes))
	for i, p := range tr.Processes {
		ep := event.Process{PID: p.PID, PPID: p.PPID, Argv: p.Argv, Forked: p.Forked, Start: p.Start.Sub(r.t0), Exit: p.Exit,
			User: p.User, System: p.System, MaxRSS: p.MaxRSS, ReadBytes: p.ReadBytes, WriteBytes: p.WriteBytes,
			ReadChars: p.ReadChars, WriteChars: p.WriteChars}
		if p.End.IsZero() {
			ep.End = end.Sub(r.t0)
		} else {
			ep.End = p.End.Sub(r.t0)
		}
		procs[i] = ep
	}
	r.mu.Lock()
	r.processes = procs
	r.mu.Unlock()
}
