package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTraceTracks: a step is a slice on its own track of process 1 at its
// time since the plan; a phase overlapping an earlier one goes on a track
// of its own; a failed step's slice carries its error; each process of a
// RUN is a slice of a process of its own (2+step); a cached step is an
// instant; the file written parses back with the same events.
func TestTraceTracks(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tr := &Trace{}
	tr.Observe(PlanReady{Base: Base{Time: t0}, Steps: []StepInfo{
		{Index: 0, Text: "FROM scratch"},
		{Index: 1, Text: "COPY a /a"},
		{Index: 2, Text: "RUN make"},
	}})
	tr.Observe(StepCached{Base: Base{Time: t0.Add(time.Millisecond)}, Step: 0})
	tr.Observe(StepDone{Base: Base{Time: t0.Add(3 * time.Second)}, Step: 1, Duration: 2 * time.Second, Phases: []Phase{
		{Name: "cache", Start: 0, End: time.Second},
		{Name: "copy", Start: 500 * time.Millisecond, End: 2 * time.Second, Bytes: 42},
	}})
	tr.Observe(StepFailed{Base: Base{Time: t0.Add(5 * time.Second)}, Step: 2, Duration: time.Second, Error: "exit 2",
		Processes: []Process{{PID: 7, Argv: []string{"/usr/bin/make"}, Start: 100 * time.Millisecond, End: 900 * time.Millisecond, Exit: 2}}})

	var b bytes.Buffer
	if _, err := tr.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	var f TraceFile
	if err := json.Unmarshal(b.Bytes(), &f); err != nil {
		t.Fatalf("trace is not JSON: %v\n%s", err, b.Bytes())
	}
	find := func(name, ph string) *TraceEvent {
		for i, ev := range f.TraceEvents {
			if ev.Name == name && ev.Ph == ph {
				return &f.TraceEvents[i]
			}
		}
		t.Fatalf("no %q event %q in %+v", ph, name, f.TraceEvents)
		return nil
	}
	if ev := find("cached", "i"); ev.Tid != 1 || ev.Pid != 1 || ev.Ts != 1000 {
		t.Errorf("cached instant %+v, want pid 1 tid 1 at 1000µs", *ev)
	}
	if ev := find("COPY a /a", "X"); ev.Pid != 1 || ev.Tid != 2 || ev.Ts != 1e6 || ev.Dur != 2e6 {
		t.Errorf("COPY step %+v, want pid 1 tid 2 ts 1e6 dur 2e6", *ev)
	}
	cache, cp := find("cache", "X"), find("copy", "X")
	if cache.Tid != 2 || cp.Tid == 2 || cp.Ts != 1.5e6 || cp.Args["bytes"] != float64(42) {
		t.Errorf("phases cache %+v copy %+v: the overlapping copy belongs on a track of its own at 1.5e6µs with its bytes", *cache, *cp)
	}
	if ev := find("RUN make", "X"); ev.Args["error"] != "exit 2" || ev.Tid != 3 {
		t.Errorf("failed RUN step %+v, want tid 3 with its error", *ev)
	}
	if ev := find("make", "X"); ev.Pid != 4 || ev.Tid != 7 || ev.Ts != 4.1e6 || ev.Dur != 8e5 || ev.Args["exit"] != float64(2) {
		t.Errorf("make process %+v, want pid 4 tid 7 ts 4.1e6 dur 8e5 exit 2", *ev)
	}

	file := filepath.Join(t.TempDir(), "sub", "trace.json")
	if err := tr.WriteFile(file); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Errorf("WriteFile wrote\n%s\nWriteTo\n%s", got, b.Bytes())
	}
}

// TestTraceEmpty: a trace that saw nothing is a document with no events
// ([] rather than null).
func TestTraceEmpty(t *testing.T) {
	var b bytes.Buffer
	if _, err := (&Trace{}).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	var f struct {
		TraceEvents json.RawMessage `json:"traceEvents"`
	}
	if err := json.Unmarshal(b.Bytes(), &f); err != nil || string(f.TraceEvents) != "[]" {
		t.Errorf("empty trace %s (%v): traceEvents must be []", b.Bytes(), err)
	}
}
