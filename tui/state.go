package tui

import (
	"strings"
	"time"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/layers"
)

// stepStatus is where a step is in its life.
type stepStatus int

const (
	statusPending stepStatus = iota
	statusRunning
	statusCached
	statusBuilt
	statusFailed
)

func (s stepStatus) String() string {
	return [...]string{"pending", "running", "cached", "built", "failed"}[s]
}

// tailCap is how many of a step's most recent log lines stay in memory;
// older lines are read back through Backend.LogLines.
const tailCap = 512

// stepRec is everything the TUI knows about one step.
type stepRec struct {
	info      build.StepInfo
	status    stepStatus
	container string
	started   time.Time
	duration  time.Duration

	imageID, diffID, key, reason string
	size                         int64
	files                        int
	stats                        layers.ChangeStats
	snap                         *build.Snapshot

	err      string
	exitCode int
	command  string
	last     []string

	progress *build.StepProgress

	// tail is a ring of the last tailCap log lines; logN counts every line
	// received, so tail holds lines [logN-len, logN).
	tail  []string
	tpos  int
	logN  int
	lastL string
}

func (r *stepRec) addLog(line string) {
	line = sanitize(line)
	if len(r.tail) < tailCap {
		r.tail = append(r.tail, line)
	} else {
		r.tail[r.tpos] = line
		r.tpos = (r.tpos + 1) % tailCap
	}
	r.logN++
	r.lastL = line
}

// tailLine returns line i (absolute) if it is still in the ring.
func (r *stepRec) tailLine(i int) (string, bool) {
	first := r.logN - len(r.tail)
	if i < first || i >= r.logN {
		return "", false
	}
	k := i - first
	if len(r.tail) == tailCap {
		k = (r.tpos + k) % tailCap
	}
	return r.tail[k], true
}

// label is "[2/5] RUN apk add --update redis".
func (r *stepRec) label() string {
	return "[" + itoa(r.info.Number) + "/" + itoa(r.info.StageSteps) + "] " + oneLine(r.info.Text)
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\t\r") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// buildState is the model of the build that every pane reads. Only the root
// model writes it, from events.
type buildState struct {
	plan      *build.PlanReady
	source    []string // the Dockerfile, one entry a line
	steps     []stepRec
	stages    []string
	warnings  map[int][]string // line → messages
	general   []string         // warnings not tied to a line
	running   int              // step now running, -1 when none
	lastStep  int              // the step most recently touched
	started   time.Time
	done      *build.BuildDone
	closed    bool        // the event channel closed
	lineSteps map[int]int // Dockerfile line → step index
	hasOutput bool        // the command line said where the image goes
	saved     []string    // where the image was saved from the TUI
}

func newBuildState() *buildState {
	return &buildState{running: -1, lastStep: -1, warnings: map[int][]string{}, lineSteps: map[int]int{}}
}

func (b *buildState) finished() bool { return b.done != nil || b.closed }

// inspecting is true when the events tell an existing image's history
// (strata inspect) rather than a build.
func (b *buildState) inspecting() bool { return b.plan != nil && b.plan.Inspect }

// saveOffered is true when the build made an image that is nowhere yet:
// no -t, no -o, not saved from the TUI. The summary and the help then
// offer S.
func (b *buildState) saveOffered() bool {
	d := b.done
	return d != nil && d.Error == "" && d.ImageID != "" && !b.inspecting() && !b.hasOutput &&
		len(d.Tags) == 0 && len(d.Outputs) == 0 && len(b.saved) == 0
}

func (b *buildState) step(i int) *stepRec {
	if i < 0 || i >= len(b.steps) {
		return nil
	}
	return &b.steps[i]
}

// stepAtLine is the step whose instruction covers line (1-based), or -1.
func (b *buildState) stepAtLine(line int) int {
	if i, ok := b.lineSteps[line]; ok {
		return i
	}
	return -1
}

// apply folds one event into the state; it returns the step it was about
// (-1 for build-wide events).
func (b *buildState) apply(ev build.Event, now time.Time) int {
	switch e := ev.(type) {
	case build.PlanReady:
		return b.applyPlan(&e, now)
	case *build.PlanReady:
		return b.applyPlan(e, now)
	case build.Warning:
		b.addWarning(e)
	case *build.Warning:
		b.addWarning(*e)
	case build.StepStarted:
		return b.started1(e, now)
	case *build.StepStarted:
		return b.started1(*e, now)
	case build.StepLog:
		return b.log(e)
	case *build.StepLog:
		return b.log(*e)
	case build.StepProgress:
		return b.progress(e)
	case *build.StepProgress:
		return b.progress(*e)
	case build.StepCached:
		return b.cached(e)
	case *build.StepCached:
		return b.cached(*e)
	case build.StepDone:
		return b.stepDone(e)
	case *build.StepDone:
		return b.stepDone(*e)
	case build.StepFailed:
		return b.failed(e)
	case *build.StepFailed:
		return b.failed(*e)
	case build.BuildDone:
		b.buildDone(e)
	case *build.BuildDone:
		b.buildDone(*e)
	}
	return -1
}

func (b *buildState) applyPlan(e *build.PlanReady, now time.Time) int {
	b.plan = e
	src := strings.ReplaceAll(string(e.Source), "\r\n", "\n")
	src = strings.TrimSuffix(src, "\n")
	b.source = nil
	if src != "" {
		b.source = strings.Split(src, "\n")
		for i := range b.source {
			b.source[i] = sanitize(b.source[i])
		}
	}
	b.steps = make([]stepRec, len(e.Steps))
	b.lineSteps = map[int]int{}
	for i, s := range e.Steps {
		b.steps[i].info = s
		end := max(s.EndLine, s.StartLine)
		for l := s.StartLine; l <= end; l++ {
			b.lineSteps[l] = i
		}
	}
	b.stages = e.Stages
	b.started = now
	return -1
}

func (b *buildState) addWarning(w build.Warning) {
	msg := w.Message
	if w.Rule != "" {
		msg = w.Rule + ": " + msg
	}
	msg = sanitize(msg)
	if w.Line > 0 {
		b.warnings[w.Line] = append(b.warnings[w.Line], msg)
	} else {
		b.general = append(b.general, msg)
	}
}

func (b *buildState) started1(e build.StepStarted, now time.Time) int {
	r := b.step(e.Step)
	if r == nil {
		return -1
	}
	r.status = statusRunning
	r.container = e.Container
	r.started = now
	b.running = e.Step
	b.lastStep = e.Step
	return e.Step
}

func (b *buildState) log(e build.StepLog) int {
	r := b.step(e.Step)
	if r == nil {
		return -1
	}
	r.addLog(e.Line)
	return e.Step
}

func (b *buildState) progress(e build.StepProgress) int {
	r := b.step(e.Step)
	if r == nil {
		return -1
	}
	p := e
	r.progress = &p
	return e.Step
}

func (b *buildState) cached(e build.StepCached) int {
	r := b.step(e.Step)
	if r == nil {
		return -1
	}
	r.status = statusCached
	r.key, r.imageID, r.diffID = e.Key, e.ImageID, e.DiffID
	r.size, r.files, r.snap = e.Size, e.Files, e.Snapshot
	if e.Snapshot != nil {
		r.stats = layers.Stats(e.Snapshot.Changes)
	}
	b.endStep(e.Step)
	return e.Step
}

func (b *buildState) stepDone(e build.StepDone) int {
	r := b.step(e.Step)
	if r == nil {
		return -1
	}
	r.status = statusBuilt
	r.imageID, r.diffID, r.key, r.reason = e.ImageID, e.DiffID, e.Key, e.Reason
	r.size, r.files, r.stats, r.duration, r.snap = e.Size, e.Files, e.Stats, e.Duration, e.Snapshot
	b.endStep(e.Step)
	return e.Step
}

func (b *buildState) failed(e build.StepFailed) int {
	r := b.step(e.Step)
	if r == nil {
		return -1
	}
	r.status = statusFailed
	r.err, r.exitCode, r.command, r.duration, r.snap = sanitize(e.Error), e.ExitCode, e.Command, e.Duration, e.Snapshot
	r.last = make([]string, len(e.Last))
	for i, l := range e.Last {
		r.last[i] = sanitize(l)
	}
	if e.Snapshot != nil {
		r.stats = layers.Stats(e.Snapshot.Changes)
	}
	b.endStep(e.Step)
	return e.Step
}

func (b *buildState) endStep(i int) {
	if b.running == i {
		b.running = -1
	}
	b.lastStep = i
}

func (b *buildState) buildDone(e build.BuildDone) {
	d := e
	d.Error = sanitize(d.Error)
	b.done = &d
	b.running = -1
	for i := range b.steps {
		if b.steps[i].status == statusRunning {
			b.steps[i].status = statusFailed
			if b.steps[i].err == "" {
				b.steps[i].err = "interrupted"
			}
		}
	}
}

// counts returns how many steps are finished, cached and built.
func (b *buildState) counts() (finished, cached, built, failed int) {
	for i := range b.steps {
		switch b.steps[i].status {
		case statusCached:
			cached++
		case statusBuilt:
			built++
		case statusFailed:
			failed++
		}
	}
	return cached + built + failed, cached, built, failed
}

// elapsed is the running time of step r.
func (r *stepRec) elapsed(now time.Time) time.Duration {
	switch r.status {
	case statusRunning:
		if r.started.IsZero() {
			return 0
		}
		return now.Sub(r.started)
	case statusBuilt, statusFailed:
		return r.duration
	}
	return 0
}

func itoa(i int) string {
	// strconv without the import noise in hot paths
	if i >= 0 && i < 10 {
		return string(rune('0' + i))
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var buf [20]byte
	p := len(buf)
	for i > 0 {
		p--
		buf[p] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		p--
		buf[p] = '-'
	}
	return string(buf[p:])
}
