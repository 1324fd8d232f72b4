package tui

import (
	"strings"
	"time"

	"github.com/strata-build/strata/build/event"
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
	info      event.StepInfo
	status    stepStatus
	container string
	started   time.Time
	duration  time.Duration

	imageID, diffID, key, reason string
	size                         int64
	files                        int
	stats                        layers.ChangeStats
	snap                         *event.Snapshot
	// unread: a hit whose change list the build did not send (its layer
	// came from a shared cache): stats are not known (layerfetch.go).
	unread bool
	// remote: an unread hit's layer still in a plain --cache-from image,
	// for people (event.RemoteLayer): its size and files are not known.
	remote string
	// prevText is the last build's instruction when the reason is that
	// the instruction changed (the Cache tab marks what changed).
	prevText string

	err      string
	exitCode int
	stopped  bool // an x run the user stopped (x again)
	command  string
	last     []string

	progress *event.StepProgress

	// kind says what the row is: a plan step, a debug shell's change kept
	// as a snapshot, or the run of the final image (x).
	kind recKind
	// owner is the plan step a kept shell snapshot sits under; seq
	// numbers the shells kept under one step (1, 2, …).
	owner, seq int
	// runLine is the RUN instruction that redoes a kept shell's change;
	// note says what state the shell opened on.
	runLine, note string

	// tail is a ring of the last tailCap log lines; logN counts every line
	// received, so tail holds lines [logN-len, logN).
	tail  []string
	tpos  int
	logN  int
	lastL string
	// notes are the lines of the stream that the step's log file lacks
	// (strata's own "info" lines, e.g. "cache miss: …"), at their place
	// in the stream, so the file's lines can be numbered as shown.
	notes []logNote
}

// logNote is an "info" line of a step's stream: line at, text.
type logNote struct {
	at   int
	text string
}

// maxNotes bounds the notes kept per step; strata writes a few at most.
const maxNotes = 4096

// recKind is what a row of the step tree stands for.
type recKind int

const (
	recStep  recKind = iota // a step of the plan
	recShell                // a debug shell's change kept as a snapshot
	recRun                  // the final image's primary command (x)
)

// pseudoCap is how many log lines a row that is not a plan step keeps:
// nothing on disk holds them, so they all stay in memory up to this.
const pseudoCap = 50000

// ringCap is the size of r's log ring.
func (r *stepRec) ringCap() int {
	if r.kind != recStep {
		return pseudoCap
	}
	return tailCap
}

func (r *stepRec) addLog(line string) {
	line = sanitize(line)
	if n := r.ringCap(); len(r.tail) < n {
		r.tail = append(r.tail, line)
	} else {
		r.tail[r.tpos] = line
		r.tpos = (r.tpos + 1) % n
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
	if n := r.ringCap(); len(r.tail) == n {
		k = (r.tpos + k) % n
	}
	return r.tail[k], true
}

// label is "[2/5] RUN apk add --update redis"; "[2/5]+ shell" for a kept
// shell snapshot, "run …" for the final image's run.
func (r *stepRec) label() string {
	num := "[" + itoa(r.info.Number) + "/" + itoa(r.info.StageSteps) + "]"
	switch r.kind {
	case recShell:
		if r.seq > 1 { // the second shell kept under one step
			return num + "+ shell " + itoa(r.seq)
		}
		return num + "+ shell"
	case recRun:
		return "run " + oneLine(r.info.Text)
	}
	return num + " " + oneLine(r.info.Text)
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
	plan      *event.PlanReady
	source    []string // the Dockerfile, one entry a line
	steps     []stepRec
	stages    []string
	warnings  map[int][]string // line → messages
	general   []string         // warnings not tied to a line
	running   int              // step now running, -1 when none
	lastStep  int              // the step most recently touched
	started   time.Time
	done      *event.BuildDone
	closed    bool        // the event channel closed
	lineSteps map[int]int // Dockerfile line → step index
	hasOutput bool        // the command line said where the image goes
	saved     []string    // where the image was saved from the TUI

	// builds counts the plans received: a session rebuilds on the same
	// stream, each build starting with its PlanReady.
	builds int
	// paused is set while the build waits before a step.
	paused *event.Paused
	// pausedFor is the time this build has spent paused (the Resumed
	// events' sum): never part of its running time.
	pausedFor time.Duration
	// extras are rows that are not plan steps (kept shell snapshots, the
	// run of the image); row index len(steps)+i.
	extras []stepRec
	// prev is the last build before this one that got anywhere; prevOf
	// maps each step to the same step of prev (-1 when none).
	prev   *prevBuild
	prevOf []int
	// breaks are the breakpoint lines (the Control's, mirrored).
	breaks map[int]bool

	// platformNote, in a multi-platform build, is Summary's account of the
	// index (platform.go).
	platformNote func(c *common, w int) []string
}

// prevBuild is what is kept of the previous build for deltas and compare.
type prevBuild struct {
	steps []stepRec
	done  *event.BuildDone
}

func newBuildState() *buildState {
	return &buildState{running: -1, lastStep: -1, warnings: map[int][]string{}, lineSteps: map[int]int{}, breaks: map[int]bool{}}
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

// step is row i: a plan step, or an extra row after them.
func (b *buildState) step(i int) *stepRec {
	if i >= 0 && i < len(b.steps) {
		return &b.steps[i]
	}
	if j := i - len(b.steps); i >= 0 && j < len(b.extras) {
		return &b.extras[j]
	}
	return nil
}

// planStep is step i of the plan (never an extra row).
func (b *buildState) planStep(i int) *stepRec {
	if i < 0 || i >= len(b.steps) {
		return nil
	}
	return &b.steps[i]
}

// rows is the number of selectable rows: plan steps and extras.
func (b *buildState) rows() int { return len(b.steps) + len(b.extras) }

// addExtra appends a row and returns its index.
func (b *buildState) addExtra(r stepRec) int {
	b.extras = append(b.extras, r)
	return len(b.steps) + len(b.extras) - 1
}

// order lists the selectable rows in the order the step tree shows them:
// each plan step followed by the shell snapshots kept on it, then the run.
func (b *buildState) order() []int {
	out := make([]int, 0, b.rows())
	for i := range b.steps {
		out = append(out, i)
		for j := range b.extras {
			if b.extras[j].kind == recShell && b.extras[j].owner == i {
				out = append(out, len(b.steps)+j)
			}
		}
	}
	for j := range b.extras {
		if b.extras[j].kind != recShell {
			out = append(out, len(b.steps)+j)
		}
	}
	return out
}

// prevStep is the same step of the previous build, or nil.
func (b *buildState) prevStep(i int) *stepRec {
	if b.prev == nil || i < 0 || i >= len(b.prevOf) || b.prevOf[i] < 0 {
		return nil
	}
	return &b.prev.steps[b.prevOf[i]]
}

// stepAtLine is the step whose instruction covers line (1-based), or -1.
// skippedStages are the stages the build leaves out (--target, or nothing
// depends on them), in Dockerfile order.
func (b *buildState) skippedStages() []event.SkippedStage {
	if b.plan == nil {
		return nil
	}
	return b.plan.Skipped
}

// skippedAt is the skipped stage holding a 1-based Dockerfile line.
func (b *buildState) skippedAt(line int) *event.SkippedStage {
	for i, sk := range b.skippedStages() {
		if line >= sk.StartLine && line <= sk.EndLine {
			return &b.skippedStages()[i]
		}
	}
	return nil
}

func (b *buildState) stepAtLine(line int) int {
	if i, ok := b.lineSteps[line]; ok {
		return i
	}
	return -1
}

// apply folds one event into the state; it returns the step it was about
// (-1 for build-wide events).
func (b *buildState) apply(ev event.Event, now time.Time) int {
	switch e := ev.(type) {
	case event.PlanReady:
		return b.applyPlan(&e, now)
	case *event.PlanReady:
		return b.applyPlan(e, now)
	case event.Warning:
		b.addWarning(e)
	case *event.Warning:
		b.addWarning(*e)
	case event.StepStarted:
		return b.started1(e, now)
	case *event.StepStarted:
		return b.started1(*e, now)
	case event.StepLog:
		return b.log(e)
	case *event.StepLog:
		return b.log(*e)
	case event.StepProgress:
		return b.progress(e)
	case *event.StepProgress:
		return b.progress(*e)
	case event.StepCached:
		return b.cached(e)
	case *event.StepCached:
		return b.cached(*e)
	case event.StepDone:
		return b.stepDone(e)
	case *event.StepDone:
		return b.stepDone(*e)
	case event.StepFailed:
		return b.failed(e)
	case *event.StepFailed:
		return b.failed(*e)
	case event.BuildDone:
		b.buildDone(e)
	case *event.BuildDone:
		b.buildDone(*e)
	case event.Paused:
		return b.pause(e)
	case *event.Paused:
		return b.pause(*e)
	case event.Resumed:
		b.paused = nil
		b.pausedFor += e.Paused
		return e.Step
	case *event.Resumed:
		b.paused = nil
		b.pausedFor += e.Paused
		return e.Step
	}
	return -1
}

func (b *buildState) pause(e event.Paused) int {
	if b.planStep(e.Step) == nil {
		return -1
	}
	p := e
	b.paused = &p
	return e.Step
}

func (b *buildState) applyPlan(e *event.PlanReady, now time.Time) int {
	if b.plan != nil {
		b.rebuilt(e)
	}
	b.builds++
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
	b.started, b.pausedFor = now, 0
	b.matchPrev()
	return -1
}

// rebuilt clears what belonged to the build before e, keeping its step
// results (when it got anywhere) to compare the new build with.
func (b *buildState) rebuilt(e *event.PlanReady) {
	got := false
	for i := range b.steps {
		if b.steps[i].status != statusPending && b.steps[i].status != statusRunning {
			got = true
			break
		}
	}
	if got {
		b.prev = &prevBuild{steps: b.steps, done: b.done}
	}
	b.warnings = map[int][]string{}
	b.general = nil
	b.running, b.lastStep = -1, -1
	b.done, b.paused = nil, nil
	b.saved = nil
	b.extras = nil
}

// matchPrev pairs each step with the same step of the previous build: the
// same instruction in the same stage first (so inserting a line does not
// shift every comparison), then the step at the same position.
func (b *buildState) matchPrev() {
	b.prevOf = make([]int, len(b.steps))
	for i := range b.prevOf {
		b.prevOf[i] = -1
	}
	if b.prev == nil {
		return
	}
	type key struct {
		stage, text string
		n           int
	}
	keyOf := func(rs []stepRec, i int, seen map[key]int) key {
		stage := rs[i].info.StageName
		if stage == "" {
			stage = "#" + itoa(rs[i].info.Stage)
		}
		k := key{stage: stage, text: rs[i].info.Text}
		k.n = seen[k]
		seen[k]++
		return k
	}
	old := map[key]int{}
	seen := map[key]int{}
	for i := range b.prev.steps {
		old[keyOf(b.prev.steps, i, seen)] = i
	}
	used := make([]bool, len(b.prev.steps))
	seen = map[key]int{}
	for i := range b.steps {
		if j, ok := old[keyOf(b.steps, i, seen)]; ok {
			b.prevOf[i], used[j] = j, true
		}
	}
	for i := range b.steps {
		if b.prevOf[i] < 0 && i < len(used) && !used[i] {
			b.prevOf[i], used[i] = i, true
		}
	}
}

func (b *buildState) addWarning(w event.Warning) {
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

func (b *buildState) started1(e event.StepStarted, now time.Time) int {
	r := b.planStep(e.Step)
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

func (b *buildState) log(e event.StepLog) int {
	r := b.planStep(e.Step)
	if r == nil {
		return -1
	}
	if e.Stream == "info" && len(r.notes) < maxNotes {
		r.notes = append(r.notes, logNote{at: r.logN, text: sanitize(e.Line)})
	}
	r.addLog(e.Line)
	return e.Step
}

func (b *buildState) progress(e event.StepProgress) int {
	r := b.planStep(e.Step)
	if r == nil {
		return -1
	}
	p := e
	r.progress = &p
	return e.Step
}

func (b *buildState) cached(e event.StepCached) int {
	r := b.planStep(e.Step)
	if r == nil {
		return -1
	}
	r.status = statusCached
	r.key, r.imageID, r.diffID, r.reason = e.Key, e.ImageID, e.DiffID, e.Reason
	r.size, r.files, r.snap = e.Size, e.Files, e.Snapshot
	if e.Snapshot != nil {
		var known bool
		r.stats, _, known = e.Snapshot.ChangeStats()
		r.unread = !known
	}
	r.remote = ""
	if e.Remote != nil {
		r.unread, r.remote = true, e.Remote.String()
	}
	b.endStep(e.Step)
	return e.Step
}

func (b *buildState) stepDone(e event.StepDone) int {
	r := b.planStep(e.Step)
	if r == nil {
		return -1
	}
	r.status = statusBuilt
	r.imageID, r.diffID, r.key, r.reason = e.ImageID, e.DiffID, e.Key, e.Reason
	r.prevText = sanitize(e.PrevInstruction)
	r.size, r.files, r.stats, r.duration, r.snap = e.Size, e.Files, e.Stats, e.Duration, e.Snapshot
	b.endStep(e.Step)
	return e.Step
}

func (b *buildState) failed(e event.StepFailed) int {
	r := b.planStep(e.Step)
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
		r.stats, _, _ = e.Snapshot.ChangeStats()
	}
	b.endStep(e.Step)
	return e.Step
}

func (b *buildState) endStep(i int) {
	if b.running == i {
		b.running = -1
		// Independent stages run at once: follow a step still running.
		for j := range b.steps {
			if j != i && b.steps[j].status == statusRunning {
				b.running = j
				break
			}
		}
	}
	b.lastStep = i
}

func (b *buildState) buildDone(e event.BuildDone) {
	d := e
	d.Error = sanitize(d.Error)
	b.done = &d
	b.running = -1
	b.paused = nil
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
