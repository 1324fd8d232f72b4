package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// TestRunOutputInOrder: a RUN's stdout and stderr are one stream in the
// order the command wrote them, as docker build shows them: in the events
// (Log tab, plain output), the failure's last lines and the step's log
// file. Ten builds in a row, as the disorder came most of the time.
func TestRunOutputInOrder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: RUN uses the sandbox (CI runs as root)")
	}
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("the sandbox is not supported here")
	}
	rootfs := busyboxRootfs(t)
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\nADD rootfs.tar /\nRUN echo building... && ls /nonexistent\n",
		"rootfs.tar": string(rootfs),
	})
	for i := range 10 {
		logDir := t.TempDir()
		p, err := frontend.NewPlan(frontend.Options{ContextDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		e := &Executor{Store: store, Plan: p, Opt: frontend.Options{ContextDir: dir}, Runner: runner, LogDir: logDir}
		var lines []string
		e.Observe = func(ev event.Event) {
			if l, ok := ev.(event.StepLog); ok && l.Step == 2 && l.Stream != "info" {
				lines = append(lines, l.Line)
			}
		}
		_, err = e.Build(t.Context(), nil)
		var rf *RunFailure
		if !errors.As(err, &rf) {
			t.Fatalf("build %d: %v, want the RUN to fail", i+1, err)
		}
		check := func(where string, got []string) {
			t.Helper()
			if len(got) != 2 || got[0] != "building..." || !strings.Contains(got[1], "nonexistent") {
				t.Errorf("build %d, %s: %q; want building... then ls's error", i+1, where, got)
			}
		}
		check("events", lines)
		check("last output", rf.Last)
		b, err := os.ReadFile(filepath.Join(logDir, "step-2.log"))
		if err != nil {
			t.Fatal(err)
		}
		check("log file", strings.Split(strings.TrimSpace(string(b)), "\n"))
	}
}
