package build

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// phaseCover is how much of d the union of phases covers.
func phaseCover(phases []event.Phase, d time.Duration) time.Duration {
	var covered, reach time.Duration
	for _, p := range phases { // in start order
		s, e := max(p.Start, reach), min(p.End, d)
		if e > s {
			covered += e - s
		}
		reach = max(reach, p.End)
	}
	return covered
}

// TestStepPhasesAddUp: the phases of a COPY of 5,000 files and of a RUN
// writing 30 MB cover the step's time within 5%; the RUN's processes are
// recorded with their tree, the 200 short ones grouped; the trace file
// parses back as trace-event JSON.
func TestStepPhasesAddUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: RUN uses the sandbox (CI runs as root)")
	}
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("the sandbox is not supported here")
	}
	files := map[string]string{"rootfs.tar": string(busyboxRootfs(t))}
	for i := range 5000 {
		files[fmt.Sprintf("many/d%02d/f%04d", i%50, i)] = fmt.Sprint(i)
	}
	df := "FROM scratch\nADD rootfs.tar /\nCOPY many /many\n" +
		"RUN sh -c 'sleep 0.3; (sleep 0.2 & sleep 0.1; wait); for i in $(seq 200); do /bin/true; done; dd if=/dev/zero of=/big bs=1M count=30 2>/dev/null'\n"
	dir := t.TempDir()
	writeTree(t, dir, files)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &event.Trace{}
	r := buildIn(t, newStore(t), frontend.Options{ContextDir: dir}, runner).mustOK(t)
	var done []event.StepDone
	for _, ev := range r.events {
		tr.Observe(ev)
		if d, ok := ev.(event.StepDone); ok {
			done = append(done, d)
		}
	}
	if len(done) != 4 {
		t.Fatalf("%d steps done, want 4", len(done))
	}
	for _, d := range done[2:] {
		cover := phaseCover(d.Phases, d.Duration)
		t.Logf("step %d: %v of %v: %s", d.Step+1, cover, d.Duration, event.PhaseSummary(d.Phases))
		if float64(cover) < 0.95*float64(d.Duration) {
			t.Errorf("step %d: phases cover %v of %v (< 95%%): %+v", d.Step+1, cover, d.Duration, d.Phases)
		}
	}
	var cacheDetail string
	for _, p := range done[2].Phases {
		if p.Name == "cache" {
			cacheDetail = p.Detail
		}
	}
	if want := "5,051 context paths checksummed, 5,050 of them under many/"; !strings.HasPrefix(cacheDetail, want) {
		t.Errorf("COPY's cache phase says %q, want %q…", cacheDetail, want)
	}
	run := done[3]
	if trace := run.Phases; !hasPhase(trace, "command") {
		t.Skipf("processes not recorded here: %+v", run.Phases)
	}
	tree := event.ProcessTree(run.Processes)
	if tree == nil {
		t.Fatal("no process tree")
	}
	// The shell form's /bin/sh -c executes the RUN's single command, sh -c
	// '…', itself: the command's node has it as its exec part.
	top := tree
	if len(tree.Children) == 1 && tree.Children[0].Execed {
		top = tree.Children[0]
	}
	var labels []string
	for _, c := range top.Children {
		labels = append(labels, fmt.Sprintf("%s:%d", c.Label(), c.Count))
	}
	got := strings.Join(labels, ", ")
	// A process gone before its exec was read is named by its comm
	// ("true", "dd"): its argv is not asserted.
	for _, want := range []string{"sleep 0.3:1", "sh (subshell):1", "true ×200:200"} {
		if !strings.Contains(got, want) {
			t.Errorf("command's children %q lack %q", got, want)
		}
	}
	// busybox's shell runs its last command (the dd applet) itself, in
	// its own process, without an exec.
	if tree.Name() != "sh" || tree.Exit != 0 {
		t.Errorf("the command is %q (exit %d), want sh (exit 0)", tree.Name(), tree.Exit)
	}
	sub := 0
	for _, c := range top.Children {
		if c.Forked && len(c.Children) == 2 && c.Children[0].Name() == "sleep" && c.Children[1].Name() == "sleep" {
			sub++
		}
	}
	if sub != 1 {
		t.Errorf("no subshell with its two sleeps under the command: %s", got)
	}

	var b bytes.Buffer
	if _, err := tr.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	var f struct {
		TraceEvents []struct {
			Name string          `json:"name"`
			Ph   string          `json:"ph"`
			Ts   *float64        `json:"ts"`
			Dur  float64         `json:"dur"`
			Pid  *int            `json:"pid"`
			Tid  *int            `json:"tid"`
			Args json.RawMessage `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(b.Bytes(), &f); err != nil {
		t.Fatalf("trace is not JSON: %v", err)
	}
	procs := 0
	for _, ev := range f.TraceEvents {
		if ev.Ph == "" || ev.Pid == nil || ev.Tid == nil || (ev.Ph == "X" && ev.Ts == nil) || ev.Name == "" {
			t.Fatalf("not a trace event: %+v", ev)
		}
		if ev.Ph == "X" && ev.Pid != nil && *ev.Pid == 2+run.Step {
			procs++
		}
	}
	if procs != len(run.Processes) {
		t.Errorf("trace has %d process slices, want %d", procs, len(run.Processes))
	}
}

func hasPhase(ps []event.Phase, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// TestFindingRebuiltByCopy: a slow RUN after `COPY . /app` is rebuilt when
// a file of the context changes, and the report says which step and file
// caused it and what to do.
func TestFindingRebuiltByCopy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: RUN uses the sandbox (CI runs as root)")
	}
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("the sandbox is not supported here")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"rootfs.tar": string(busyboxRootfs(t)), "src/a.go": "one", "go.sum": "x",
		"Dockerfile": "FROM scratch\nADD rootfs.tar /\nCOPY . /app\nRUN sleep 1.1\n",
	})
	store := newStore(t)
	buildIn(t, store, frontend.Options{ContextDir: dir}, runner).mustOK(t)
	writeTree(t, dir, map[string]string{"src/a.go": "two"})
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, runner).mustOK(t)
	rep := &event.Report{}
	for _, ev := range r.events {
		rep.Observe(ev)
	}
	run := rep.Steps[3]
	want := "rebuilt because `COPY . /app` (line 3) before it was: file src/a.go changed; it copies the whole context"
	if run.Status != "built" || !strings.Contains(strings.Join(run.Findings, "\n"), want) {
		t.Errorf("RUN step: %s, findings %q; want one with %q", run.Status, run.Findings, want)
	}
}

// TestPullPhase: a FROM that pulls has a pull phase with the bytes of its
// layers as the registry serves them; built again from the store, a
// resolve phase.
func TestPullPhase(t *testing.T) {
	needRoot(t)
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(100_000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, host+"/base:1"), img); err != nil {
		t.Fatal(err)
	}
	var want int64
	ls, _ := img.Layers()
	for _, l := range ls {
		n, _ := l.Size()
		want += n
	}
	store := newStore(t)
	for i, wantPhase := range []string{"pull", "resolve"} {
		r := build(t, store, "FROM "+host+"/base:1\nENV A="+fmt.Sprint(i)+"\n", nil, frontend.Options{NoCache: true}).mustOK(t)
		var from *event.StepDone
		for _, ev := range r.events {
			if d, ok := ev.(event.StepDone); ok && d.Step == 0 {
				from = &d
			}
		}
		if from == nil || len(from.Phases) != 1 || from.Phases[0].Name != wantPhase {
			t.Fatalf("build %d: FROM phases %+v, want one %s phase", i+1, from, wantPhase)
		}
		if p := from.Phases[0]; wantPhase == "pull" && p.Bytes != want {
			t.Errorf("pull phase has %d bytes, want the layers' %d", p.Bytes, want)
		}
	}
}
