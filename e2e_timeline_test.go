package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTUITimeline: on a real build, T opens the timeline; the user moves
// to the RUN, enters its processes, finds the 50 short /bin/true grouped
// into one bar, opens its details, goes back, closes the timeline and quits.
func TestTUITimeline(t *testing.T) {
	for _, sz := range tourSizes {
		t.Run(itoa(sz[0])+"x"+itoa(sz[1]), func(t *testing.T) {
			root, ctx := debugSetup(t, "FROM dbg-base:1\nRUN sh -c 'sleep 0.3; for i in $(seq 50); do /bin/true; done'\n")
			s, exitFile := startTUI(t, sz[0], sz[1], "--root", root, ctx)
			s.waitFor("build complete", 60*time.Second)
			s.keys("T")
			s.waitFor("Timeline · 2 steps", 10*time.Second)
			s.keys("j")
			s.waitFor("enter: its 53 processes", 10*time.Second)
			s.keys("Enter")
			scr := s.waitFor("Step 2 processes", 10*time.Second)
			for _, want := range []string{"sleep 0.3", "true ×50"} {
				if !strings.Contains(scr, want) {
					t.Errorf("the RUN's processes lack %q:\n%s", want, scr)
				}
			}
			// Down the tree to the group (under the shell form's /bin/sh
			// and its exec of sh -c).
			for i := 0; i < 8 && !strings.Contains(s.screen(), "50 processes, "); i++ {
				s.keys("j")
			}
			s.waitFor("50 processes, ", 10*time.Second)
			s.keys("Escape")
			s.waitFor("Timeline · 2 steps", 10*time.Second)
			s.keys("T")
			s.keys("q")
			if code := waitExit(t, s, exitFile); code != "0" {
				t.Errorf("strata exited %s", code)
			}
			nothingLeft(t, root)
		})
	}
}

// TestBuildTraceAndReport: `strata build --trace --report` on a RUN that
// takes over a second: the plain output has its time line, the trace is
// trace-event JSON with the RUN's processes, the report has its phases,
// process count, top processes and findings.
func TestBuildTraceAndReport(t *testing.T) {
	root, ctx := debugSetup(t, "FROM dbg-base:1\nRUN sh -c 'sleep 1.2; for i in $(seq 20); do /bin/true; done'\n")
	dir := t.TempDir()
	tracePath, reportPath := filepath.Join(dir, "trace.json"), filepath.Join(dir, "report.json")
	out := mustStrata(t, "build", "--root", root, "--progress", "plain", "--trace", tracePath, "--report", reportPath, ctx)
	if !strings.Contains(out, " ---> time: cache ") || !strings.Contains(out, "command ") || !strings.Contains(out, " ---> note: ") {
		t.Errorf("no time line and notes for a step over a second:\n%s", out)
	}
	var trace struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Cat  string         `json:"cat"`
			Ph   string         `json:"ph"`
			Dur  float64        `json:"dur"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	b, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &trace); err != nil {
		t.Fatalf("--trace is not JSON: %v", err)
	}
	procs, sleep := 0, false
	for _, ev := range trace.TraceEvents {
		if ev.Cat == "process" && ev.Ph == "X" {
			procs++
			if ev.Name == "sleep" && ev.Dur >= 1.2e6 {
				sleep = true
			}
		}
	}
	if procs < 22 || !sleep {
		t.Errorf("trace has %d process slices (want the shells, sleep and 20 true), a sleep of 1.2s: %v", procs, sleep)
	}
	var report struct {
		Steps []struct {
			Phases []struct {
				Name string `json:"name"`
			} `json:"phases"`
			Processes    int `json:"processes"`
			TopProcesses []struct {
				Argv []string `json:"argv"`
			} `json:"top_processes"`
			Findings []string `json:"findings"`
		} `json:"steps"`
	}
	b, err = os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &report); err != nil {
		t.Fatal(err)
	}
	run := report.Steps[1]
	if run.Processes < 22 || len(run.TopProcesses) == 0 || strings.Join(run.TopProcesses[0].Argv, " ") != "sleep 1.2" || len(run.Findings) == 0 || len(run.Phases) < 5 {
		t.Errorf("report's RUN step: %+v", run)
	}
	nothingLeft(t, root)
}
