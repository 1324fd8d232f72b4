package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// requireTrace skips when the kernel's process events cannot be had here.
func requireTrace(t testing.TB, tr *Trace) {
	t.Helper()
	if tr.Err != nil {
		t.Skipf("process recording unavailable (needs root in the initial namespaces, CONFIG_PROC_EVENTS and CONFIG_TASKSTATS): %v", tr.Err)
	}
}

func TestTraceShape(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "/bin/sh", "-c", "sleep 0.3; (sleep 0.2 & sleep 0.1; wait); for i in $(seq 200); do /bin/true; done; exit 3")
	spec.Network = NetworkNone
	spec.Trace = &Trace{}
	r := run(t, spec)
	requireTrace(t, spec.Trace)
	if r.err != nil || r.code != 3 {
		t.Fatalf("Run = %d, %v (want 3)", r.code, r.err)
	}
	procs := spec.Trace.Processes
	for _, p := range procs[:min(len(procs), 12)] {
		t.Logf("%d<-%d %q forked=%v %v %d", p.PID, p.PPID, p.Argv, p.Forked, p.End.Sub(p.Start).Round(time.Millisecond), p.Exit)
	}
	if spec.Trace.Lost {
		t.Fatal("events lost")
	}
	if len(procs) == 0 || procs[0].PPID != 0 || strings.Join(procs[0].Argv, " ") != strings.Join(spec.Args, " ") {
		t.Fatalf("first process %+v, want the command %q", procs[0], spec.Args)
	}
	sh := procs[0].PID
	if procs[0].Exit != 3 {
		t.Errorf("command exit %d, want 3", procs[0].Exit)
	}
	byPID := map[int]Process{}
	for _, p := range procs {
		byPID[p.PID] = p
	}
	within := func(p Process, want time.Duration) {
		t.Helper()
		got := p.End.Sub(p.Start)
		if got < want || got > want+150*time.Millisecond {
			t.Errorf("%q %d ran %v, want %v (+150ms)", p.Argv, p.PID, got, want)
		}
	}
	var sleeps []Process
	var trues, subshells int
	for _, p := range procs[1:] {
		switch {
		case p.Forked:
			subshells++
			if p.PPID != sh {
				t.Errorf("subshell %d has parent %d, want %d", p.PID, p.PPID, sh)
			}
		case len(p.Argv) > 0 && p.Argv[0] == "sleep":
			sleeps = append(sleeps, p)
		// A process gone before its exec event was read is named by its
		// comm ("true").
		case len(p.Argv) > 0 && (p.Argv[0] == "/bin/true" || p.Argv[0] == "true"):
			trues++
			if p.PPID != sh || p.Exit != 0 {
				t.Errorf("/bin/true %d: parent %d exit %d, want %d and 0", p.PID, p.PPID, p.Exit, sh)
			}
		}
	}
	if trues != 200 {
		t.Errorf("%d /bin/true processes, want 200", trues)
	}
	if len(sleeps) != 3 {
		t.Fatalf("%d sleeps, want 3", len(sleeps))
	}
	within(sleeps[0], 300*time.Millisecond)
	if sleeps[0].PPID != sh {
		t.Errorf("sleep 0.3's parent %d, want the command %d", sleeps[0].PPID, sh)
	}
	for _, s := range sleeps[1:] {
		sub, ok := byPID[s.PPID]
		if !ok || !sub.Forked || sub.PPID != sh {
			t.Errorf("%q's parent %d is not the subshell of the command", s.Argv, s.PPID)
		}
		switch s.Argv[1] {
		case "0.2":
			within(s, 200*time.Millisecond)
		case "0.1":
			within(s, 100*time.Millisecond)
		}
	}
	if subshells < 1 {
		t.Errorf("no subshell recorded")
	}
	if procs[0].User+procs[0].System == 0 && procs[0].ReadChars == 0 {
		t.Errorf("the command has no accounting: %+v", procs[0])
	}
}

// TestTraceExec: a command that executes another program keeps the first
// in Before, and the time of the exec.
func TestTraceExec(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "/bin/sh", "-c", "/bin/sleep 0.1; exec /bin/sleep 0.2")
	spec.Network = NetworkNone
	spec.Trace = &Trace{}
	mustRun(t, spec)
	requireTrace(t, spec.Trace)
	procs := spec.Trace.Processes
	if len(procs) != 2 {
		t.Fatalf("%d processes, want the command and one sleep: %+v", len(procs), procs)
	}
	cmd := procs[0]
	if strings.Join(cmd.Before, " ") != strings.Join(spec.Args, " ") || strings.Join(cmd.Argv, " ") != "/bin/sleep 0.2" {
		t.Errorf("command ran %q then %q, want %q then /bin/sleep 0.2", cmd.Before, cmd.Argv, spec.Args)
	}
	if d := cmd.End.Sub(cmd.Exec); d < 200*time.Millisecond || d > 350*time.Millisecond {
		t.Errorf("exec to exit %v, want 200ms (+150ms)", d)
	}
	if procs[1].PPID != cmd.PID || procs[1].End.After(cmd.Exec) {
		t.Errorf("the first sleep (parent %d, end %v) is not the shell's, before its exec (%v)", procs[1].PPID, procs[1].End, cmd.Exec)
	}
}

// TestTraceRefusedInUserNamespace: in a user namespace (as a rootless
// strata is) the kernel gives no process events; the recorder says so
// instead of recording nothing.
func TestTraceRefusedInUserNamespace(t *testing.T) {
	if os.Getenv("STRATA_TEST_TRACER_CHILD") == "1" {
		tr, err := startTracer(os.Getpid())
		if err == nil {
			tr.stop(&Trace{})
			fmt.Println("RESULT: recording started")
			return
		}
		fmt.Println("RESULT: " + err.Error())
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("needs unshare(1) (util-linux)")
	}
	cmd := exec.Command(unshare, "--user", "--map-root-user", os.Args[0], "-test.run", "^TestTraceRefusedInUserNamespace$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STRATA_TEST_TRACER_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "RESULT:") {
		t.Skipf("no user namespace here: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "RESULT: recording started") || !strings.Contains(string(out), "RESULT: ") {
		t.Fatalf("in a user namespace: %s", out)
	}
	t.Logf("%s", out)
}
