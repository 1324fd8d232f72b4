package build

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// TestPausedTimeIsNotBuildTime: a build held at a breakpoint for a second
// took well under a second; the paused time is reported apart (BuildDone,
// Resumed, plain output, JSON, report), so a rebuild comparison is not
// swamped by how long the user looked around.
func TestPausedTimeIsNotBuildTime(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nLABEL a=b\nENV X=y\n"})
	opt := frontend.Options{ContextDir: dir}
	p, err := frontend.NewPlan(opt)
	if err != nil {
		t.Fatal(err)
	}
	const hold = time.Second
	ctl := NewControl(false, []int{2})
	e := &Executor{Store: store, Plan: p, Opt: opt, Control: ctl}
	ch := make(chan event.Event, 16)
	var evs []event.Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			evs = append(evs, ev)
			if _, ok := ev.(event.Paused); ok {
				go func() { time.Sleep(hold); ctl.Continue() }()
			}
		}
	}()
	if _, err := e.Build(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	<-done
	var bd *event.BuildDone
	var resumed *event.Resumed
	var steps time.Duration
	for _, ev := range evs {
		switch ev := ev.(type) {
		case event.BuildDone:
			bd = &ev
		case event.Resumed:
			resumed = &ev
		case event.StepDone:
			steps += ev.Duration
		}
	}
	if bd == nil || resumed == nil {
		t.Fatalf("no BuildDone or Resumed event: %v", evs)
	}
	if bd.Duration >= hold/2 {
		t.Errorf("the build took %v: the %v at the breakpoint is counted as build time", bd.Duration, hold)
	}
	if bd.Paused < hold || bd.Paused > 10*hold {
		t.Errorf("BuildDone.Paused = %v, want about %v", bd.Paused, hold)
	}
	if resumed.Paused < hold || resumed.Paused > bd.Paused {
		t.Errorf("Resumed.Paused = %v, want about %v", resumed.Paused, hold)
	}
	if steps >= hold/2 {
		t.Errorf("the steps took %v in all: paused time counted in a step", steps)
	}
	// Plain output: the time, then the paused time apart.
	var plain bytes.Buffer
	pp := &event.PlainPrinter{W: &plain}
	pp.Print(*bd)
	if s := plain.String(); !strings.Contains(s, " paused)") || strings.Contains(s, " in 1.") {
		t.Errorf("plain output does not show the paused time apart: %q", s)
	}
	// JSON: duration_ns without the pause, paused_ns apart.
	b, _ := json.Marshal(bd)
	var j struct {
		Duration int64 `json:"duration_ns"`
		Paused   int64 `json:"paused_ns"`
	}
	json.Unmarshal(b, &j)
	if time.Duration(j.Duration) >= hold/2 || time.Duration(j.Paused) < hold {
		t.Errorf("JSON %s: want duration_ns without the pause and paused_ns with it", b)
	}
	// The report.
	r := &event.Report{}
	for _, ev := range evs {
		r.Observe(ev)
	}
	var rb bytes.Buffer
	r.WriteTo(&rb)
	var rj struct {
		Duration int64 `json:"duration_ns"`
		Paused   int64 `json:"paused_ns"`
	}
	json.Unmarshal(rb.Bytes(), &rj)
	if time.Duration(rj.Duration) >= hold/2 || time.Duration(rj.Paused) < hold {
		t.Errorf("report: duration_ns %v paused_ns %v", time.Duration(rj.Duration), time.Duration(rj.Paused))
	}
}

// TestPausedTimePerBuild: a session's builds share a Control; a rebuild
// that never paused reports no paused time (the first build's pause is
// the first build's).
func TestPausedTimePerBuild(t *testing.T) {
	ctl := NewControl(false, nil)
	ctl.mu.Lock()
	ctl.pausedFor = time.Hour // an earlier build of the session paused
	ctl.mu.Unlock()
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nLABEL a=b\n"})
	opt := frontend.Options{ContextDir: dir}
	p, err := frontend.NewPlan(opt)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan event.Event, 64)
	var bd event.BuildDone
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if d, ok := ev.(event.BuildDone); ok {
				bd = d
			}
		}
	}()
	if _, err := (&Executor{Store: store, Plan: p, Opt: opt, Control: ctl}).Build(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	<-done
	if bd.Paused != 0 || bd.Duration <= 0 || bd.Duration > time.Minute {
		t.Errorf("rebuild: duration %v, paused %v; want its own time and no pause", bd.Duration, bd.Paused)
	}
}
