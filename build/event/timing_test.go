package event

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestFindings(t *testing.T) {
	ms := time.Millisecond
	var procs []Process
	procs = append(procs, Process{PID: 1, Argv: []string{"sh", "-c", "apt-get update && cp -r"}, Start: 0, End: 10000 * ms})
	procs = append(procs, Process{PID: 2, PPID: 1, Argv: []string{"apt-get", "update"}, Start: 0, End: 8200 * ms, ReadChars: 38_000_000, WriteChars: 1_000_000})
	for i := range 200 {
		s := 8300*ms + time.Duration(i)*ms
		procs = append(procs, Process{PID: 10 + i, PPID: 1, Argv: []string{"cp"}, Start: s, End: s + ms/2})
	}
	procs[50].End += 300 * ms // one slow cp stays in the loop's group
	procs = append(procs, Process{PID: 9999, PPID: 1, Argv: []string{"false"}, Start: 9000 * ms, End: 9001 * ms, Exit: 1})
	got := Findings(StepTiming{Kind: "RUN", Duration: 10000 * ms, Processes: procs, Files: 31000,
		Phases: []Phase{{Name: "command", Start: 0, End: 3000 * ms}, {Name: "snapshot", Start: 3000 * ms, End: 7000 * ms}},
		Reason: EarlierRebuilt, Cause: "COPY . .", CauseLine: 3, CauseReason: "file src/main.go changed"})
	want := []string{
		"82% of this step is `apt-get update` (38MB read, 1MB written)",
		"this step ran 203 processes",
		"1 process exited non-zero",
		"writing the layer took longer than the command (4s against 3s): 31,000 files",
		"rebuilt because `COPY . .` (line 3) before it was: file src/main.go changed; it copies the whole context",
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("findings lack %q:\n%s", w, all)
		}
	}
	var groups []string
	for _, c := range ProcessTree(procs).Children {
		groups = append(groups, c.Label())
	}
	if fmt.Sprint(groups) != "[apt-get update cp ×200 false]" {
		t.Errorf("children %q, want apt-get, cp ×200 (the slow one too) and false", groups)
	}
	if n := len(Findings(StepTiming{Kind: "RUN", Duration: time.Second, Phases: []Phase{{Name: "command", End: time.Second}}})); n != 0 {
		t.Errorf("a plain step has %d findings, want none", n)
	}
	cache := Findings(StepTiming{Kind: "COPY", Duration: 3 * time.Second, Phases: []Phase{{Name: "cache", End: 2300 * ms, Detail: "48,000 context paths checksummed, 47,000 of them under node_modules/"}}})
	if len(cache) != 1 || !strings.Contains(cache[0], "computing the cache key took 2.3s (76%): 48,000 context paths checksummed, 47,000 of them under node_modules/") {
		t.Errorf("cache finding %q", cache)
	}
}

func TestRebuildCause(t *testing.T) {
	steps := []StepInfo{{Stage: 0, Text: "FROM x"}, {Stage: 0, Text: "COPY . ."}, {Stage: 0, Text: "RUN make"}, {Stage: 1, Text: "FROM y"}, {Stage: 1, Text: "RUN b"}}
	reasons := map[int]string{1: "file a changed", 2: EarlierRebuilt, 4: EarlierRebuilt}
	r := func(j int) string { return reasons[j] }
	if j, ok := RebuildCause(steps, r, 2); !ok || j != 1 {
		t.Errorf("cause of step 2 = %d, %v; want 1", j, ok)
	}
	if j, ok := RebuildCause(steps, r, 4); ok {
		t.Errorf("step 4's cause %d is in another stage", j)
	}
	if _, ok := RebuildCause(steps, r, 1); ok {
		t.Error("step 1 was rebuilt for its own reason")
	}
}

func TestPhaseSummaryOverlap(t *testing.T) {
	s := PhaseSummary([]Phase{{Name: "pull", End: 2 * time.Second, Bytes: 4_000_000}, {Name: "cache", Start: time.Second, End: 1500 * time.Millisecond}})
	if want := "pull 2s (4MB at 2MB/s), cache 500ms (with pull)"; s != want {
		t.Errorf("PhaseSummary = %q, want %q", s, want)
	}
}

// TestProcessTreeExec: a shell that runs `a` then executes `b` itself is
// the shell with `a` under it, then `exec b` with what b started.
func TestProcessTreeExec(t *testing.T) {
	s := time.Second
	procs := []Process{
		{PID: 1, Argv: []string{"b"}, Before: []string{"sh", "-c", "a; exec b"}, Exec: 2 * s, Start: 0, End: 5 * s},
		{PID: 2, PPID: 1, Argv: []string{"a"}, Start: s / 2, End: 2 * s},
		{PID: 3, PPID: 1, Argv: []string{"c"}, Start: 3 * s, End: 4 * s},
	}
	var got []string
	ProcessTree(procs).Walk(func(n *ProcNode, d int) { got = append(got, strings.Repeat(" ", d)+n.Label()) })
	want := []string{"sh -c a; exec b", " a", " exec b", "  c"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tree %q, want %q", got, want)
	}
	// The findings look through the exec: c is 20% of a 5 s step.
	procs[0].Before, procs[0].Exec = []string{"/bin/sh", "-c", "b"}, 0
	procs = append(procs[:1], procs[2])
	f := Findings(StepTiming{Kind: "RUN", Duration: 5 * s, Processes: procs})
	if len(f) == 0 || f[0] != "20% of this step is `c`" {
		t.Errorf("findings %q, want the first to be c's 20%%", f)
	}
}
