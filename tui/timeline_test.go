package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-build/strata/build/event"
)

// timelineEvents is a build of four steps: FROM, a cached COPY, a RUN
// with a known process tree (a 300 ms sleep, a subshell with two sleeps,
// 200 short /bin/true) and a COPY.
func timelineEvents() []event.Event {
	at := func(d time.Duration) event.Base { return event.Base{Time: t0.Add(d)} }
	ms := time.Millisecond
	steps := []event.StepInfo{
		{Index: 0, Number: 1, StageSteps: 4, Kind: "FROM", Text: "FROM alpine:3.20", StartLine: 1, EndLine: 1},
		{Index: 1, Number: 2, StageSteps: 4, Kind: "COPY", Text: "COPY go.mod go.sum ./", StartLine: 2, EndLine: 2},
		{Index: 2, Number: 3, StageSteps: 4, Kind: "RUN", Text: "RUN sh -c 'sleep 0.3; (sleep 0.2 & sleep 0.1; wait); for i in $(seq 200); do /bin/true; done'", StartLine: 3, EndLine: 3},
		{Index: 3, Number: 4, StageSteps: 4, Kind: "COPY", Text: "COPY . .", StartLine: 4, EndLine: 4},
	}
	sh := []string{"sh", "-c", "sleep 0.3; (sleep 0.2 & sleep 0.1; wait); for i in $(seq 200); do /bin/true; done"}
	procs := []event.Process{
		{PID: 10, Argv: sh, Start: 60 * ms, End: 1060 * ms, User: 40 * ms, System: 90 * ms, MaxRSS: 1 << 20, ReadChars: 4096},
		{PID: 11, PPID: 10, Argv: []string{"sleep", "0.3"}, Start: 61 * ms, End: 362 * ms, MaxRSS: 800 << 10},
		{PID: 12, PPID: 10, Argv: sh, Forked: true, Start: 363 * ms, End: 566 * ms},
		{PID: 13, PPID: 12, Argv: []string{"sleep", "0.2"}, Start: 364 * ms, End: 565 * ms},
		{PID: 14, PPID: 12, Argv: []string{"sleep", "0.1"}, Start: 364 * ms, End: 465 * ms},
	}
	for i := range 200 {
		s := 570*ms + time.Duration(i)*2*ms
		procs = append(procs, event.Process{PID: 100 + i, PPID: 10, Argv: []string{"/bin/true"}, Start: s, End: s + ms, System: 300 * time.Microsecond})
	}
	runStart := 400 * ms
	return []event.Event{
		event.PlanReady{Base: at(0), Dockerfile: "Dockerfile", Steps: steps, Stages: []string{"stage-0"}},
		event.StepStarted{Base: at(0), Step: 0},
		event.StepDone{Base: at(300 * ms), Step: 0, ImageID: digest("c0"), Duration: 300 * ms,
			Phases: []event.Phase{{Name: "cache", End: 20 * ms}, {Name: "pull", Start: 20 * ms, End: 300 * ms, Bytes: 3_400_000}}},
		event.StepStarted{Base: at(300 * ms), Step: 1},
		event.StepCached{Base: at(310 * ms), Step: 1, ImageID: digest("c1")},
		event.StepStarted{Base: at(runStart), Step: 2, Container: "abc"},
		event.StepLog{Base: at(runStart + 100*ms), Step: 2, Stream: "stdout", Line: "starting"},
		event.StepLog{Base: at(runStart + 600*ms), Step: 2, Stream: "stdout", Line: "in the loop"},
		event.StepDone{Base: at(runStart + 1200*ms), Step: 2, ImageID: digest("c2"), DiffID: digest("l2"), Duration: 1200 * ms, Files: 3,
			Phases: []event.Phase{{Name: "cache", End: 1 * ms}, {Name: "prepare", Start: 1 * ms, End: 5 * ms}, {Name: "setup", Start: 5 * ms, End: 60 * ms},
				{Name: "command", Start: 60 * ms, End: 1060 * ms}, {Name: "teardown", Start: 1060 * ms, End: 1100 * ms},
				{Name: "snapshot", Start: 1100 * ms, End: 1190 * ms}, {Name: "commit", Start: 1190 * ms, End: 1200 * ms}},
			Processes: procs},
		event.StepStarted{Base: at(1600 * ms), Step: 3},
		event.StepDone{Base: at(2000 * ms), Step: 3, ImageID: digest("c3"), DiffID: digest("l3"), Duration: 400 * ms, Files: 10,
			Phases: []event.Phase{{Name: "cache", End: 250 * ms, Detail: "48000 context files checksummed"}, {Name: "copy", Start: 250 * ms, End: 350 * ms},
				{Name: "snapshot", Start: 350 * ms, End: 390 * ms}, {Name: "commit", Start: 390 * ms, End: 400 * ms}}},
		event.BuildDone{Base: at(2000 * ms), ImageID: digest("c3"), Duration: 2000 * ms, Built: 3, Cached: 1, Layers: 2},
	}
}

// TestTimelineGolden: the timeline (T) of a build, then the RUN's
// processes (enter on it), at 80×24 and 200×50, through the program; the
// goldens hold the timeline screen (the help bar under it belongs to the panes).
func TestTimelineGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			tm := startFlow(t, newFixture().be, feed(timelineEvents(), true), sz[0], sz[1])
			waitText(t, tm, "build complete")
			tm.Send(keyMsg("T"))
			waitText(t, tm, "Timeline · 4 steps")
			tm.Send(keyMsg("down"))
			tm.Send(keyMsg("down"))
			waitText(t, tm, "enter: its 205 processes")
			var steps string
			waitModel(t, tm, "steps screen", func(m *model) bool { steps = m.timeline.View(); return true })
			requireGolden(t, fmt.Sprintf("timeline-steps-%dx%d", sz[0], sz[1]), steps)
			tm.Send(keyMsg("enter"))
			waitText(t, tm, "Step 3 processes")
			tm.Send(keyMsg("down"))
			tm.Send(keyMsg("down"))
			tm.Send(keyMsg("down"))
			tm.Send(keyMsg("down"))
			tm.Send(keyMsg("down"))
			waitText(t, tm, "200 processes, ")
			var procs string
			waitModel(t, tm, "process screen", func(m *model) bool { procs = m.timeline.View(); return true })
			requireGolden(t, fmt.Sprintf("timeline-procs-%dx%d", sz[0], sz[1]), procs)
			if !strings.Contains(procs, "output while it ran: 1 line") || !strings.Contains(procs, "in the loop") {
				t.Errorf("the group's details do not show the line written while it ran:\n%s", procs)
			}
			tm.Send(keyMsg("esc"))
			waitText(t, tm, "Timeline · 4 steps")
			tm.Send(keyMsg("T"))
			waitModel(t, tm, "timeline closed", func(m *model) bool { return !m.timelineOn })
			// The Step tab of the RUN: a bar per phase.
			tm.Send(openStepMsg{step: 2})
			waitText(t, tm, "Where its 1.2s went:")
			var story string
			waitModel(t, tm, "Step tab", func(m *model) bool { story = strings.Join(m.story.lines(), "\n"); return true })
			requireGolden(t, fmt.Sprintf("timeline-steptab-%dx%d", sz[0], sz[1]), story[strings.Index(story, "Where its"):])
			tm.Send(keyMsg("q"))
			finalModel(t, tm)
		})
	}
}

// TestProcessTreeGroups: the 200 short /bin/true are one node under the
// command; the subshell keeps its two sleeps.
func TestProcessTreeGroups(t *testing.T) {
	var run event.StepDone
	for _, ev := range timelineEvents() {
		if d, ok := ev.(event.StepDone); ok && d.Step == 2 {
			run = d
		}
	}
	tree := event.ProcessTree(run.Processes)
	var got []string
	tree.Walk(func(n *event.ProcNode, d int) { got = append(got, fmt.Sprintf("%d %s %d", d, n.Label(), n.Count)) })
	want := []string{"0 " + run.Processes[0].Command() + " 1", "1 sleep 0.3 1", "1 sh (subshell) 1", "2 sleep 0.2 1", "2 sleep 0.1 1", "1 true ×200 200"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tree\n%q\nwant\n%q", got, want)
	}
}

// TestPhaseDetailsShown: what a phase says of itself is under the bars, so
// a RUN whose processes were not recorded (a rootless strata) says why
// instead of showing no process tree and no reason.
func TestPhaseDetailsShown(t *testing.T) {
	c := newCommon(true)
	why := "processes not recorded: the kernel's process events need root in the host's user namespace"
	phases := []event.Phase{{Name: "prepare", End: time.Millisecond}, {Name: "container", Start: time.Millisecond, End: 60 * time.Millisecond, Detail: why}}
	out := ansi.Strip(strings.Join(phaseBars(c, phases, 60*time.Millisecond, 80), "\n"))
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "container: "+why) {
		t.Errorf("the container phase's detail is not shown:\n%s", out)
	}
	if strings.Contains(out, "prepare: ") {
		t.Errorf("a phase without a detail got a detail line:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line of %d columns at width 80: %q", n, l)
		}
	}
}
