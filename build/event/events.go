package event

import (
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/layers"
)

// Event is one thing that happened during a build. The executor publishes
// events on one channel, in order; printers and the TUI consume them. Every
// event is one of the concrete types below.
type Event interface {
	// EventType is the "type" field of the JSON form (docs/events.md).
	EventType() string
	isEvent()
}

// StepKind is the instruction a step runs (upper case, as in a Dockerfile).
type StepKind string

// StepInfo describes one step of the plan.
type StepInfo struct {
	Index      int      `json:"index"`       // position in the whole plan, 0-based
	Stage      int      `json:"stage"`       // index of the stage in the Dockerfile
	StageName  string   `json:"stage_name"`  // AS name, or "" when unnamed
	Number     int      `json:"number"`      // 1-based number within the stage
	StageSteps int      `json:"stage_steps"` // steps in this stage (for "[2/5]")
	Kind       StepKind `json:"kind"`        // FROM, RUN, COPY, ...
	Text       string   `json:"text"`        // the instruction as written (continuations joined)
	StartLine  int      `json:"start_line"`  // 1-based Dockerfile lines
	EndLine    int      `json:"end_line"`
	// MetadataOnly is true for instructions that only change the image
	// config (ENV, CMD, LABEL, ...): they never run a container.
	MetadataOnly bool `json:"metadata_only"`
}

// Snapshot is the state of the image after a step: its layer chain, its
// config and the change this step made. It is what the TUI opens.
type Snapshot struct {
	// Layers are the diffIDs of the layer chain, base first.
	Layers []v1.Hash
	// Config is the image config after the step (history included).
	Config *v1.ConfigFile
	// Stats counts this step's change list and Files is its entries, when
	// they are known without reading the layer: a built step's (nil for a
	// step without a layer, and for a layer whose list was not kept, e.g.
	// one from a shared cache). The list itself is not held: it stays in
	// the layer's changes.json, read on demand (snapshot.Backend.StepChanges,
	// layers.Store.ChangeList).
	Stats *layers.ChangeStats
	Files int
	// Changes is the change list when a producer still sends it whole (a
	// failed RUN's upper dir, a cache hit's layer until the cache code
	// reads its stats instead); nil otherwise. Readers go through
	// ChangeStats and Backend.StepChanges, which take either.
	Changes []layers.Change
	// DiffID is the layer the step added ("" hash when none).
	DiffID v1.Hash
	// Parent is the snapshot this one was built on (nil for a stage's base).
	Parent *Snapshot
	// Step is the plan index of the step that made this snapshot.
	Step int
	// UpperDir is set for a failed RUN: the kept upper dir of the failed
	// container, so its partial result can be inspected.
	UpperDir string
}

// ChangeStats counts the step's change list: Stats, else the list the
// snapshot carries; ok is false when neither is known (a layer whose list
// must be read from the store, or no snapshot).
func (s *Snapshot) ChangeStats() (st layers.ChangeStats, files int, ok bool) {
	switch {
	case s == nil:
		return st, 0, false
	case s.Stats != nil:
		return *s.Stats, s.Files, true
	case s.Changes != nil:
		return layers.Stats(s.Changes), len(s.Changes), true
	}
	return st, 0, s.DiffID.Hex == ""
}

// Base is what every event carries: when it happened. Executors fill it
// with Now().
type Base struct {
	Time time.Time `json:"time"`
}

func (Base) isEvent() {}

// PlanReady is sent once, after the Dockerfile is parsed and the stages the
// target needs are known.
type PlanReady struct {
	Base
	Dockerfile string     `json:"dockerfile"` // path as given
	Source     []byte     `json:"-"`          // the Dockerfile's bytes
	Target     string     `json:"target,omitempty"`
	Steps      []StepInfo `json:"steps"`
	Stages     []string   `json:"stages"` // display name of every stage built
	// Skipped are the stages of the Dockerfile the build leaves out
	// (--target, or nothing depends on them), each with why.
	Skipped []SkippedStage `json:"skipped,omitempty"`
	// Inspect is set when the events tell an existing image (strata
	// inspect): the steps are its history entries, Source their created_by.
	Inspect bool `json:"inspect,omitempty"`
}

// SkippedStage is a stage of the Dockerfile that the build does not build,
// and why: BuildKit builds only the stages the target needs.
type SkippedStage struct {
	Stage     int    `json:"stage"` // index of the stage in the Dockerfile
	Name      string `json:"name"`  // display name (AS name, or stage-N)
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
	Reason    string `json:"reason"` // "not needed for --target X", "no stage depends on it"
}

// Warning is a build check (linter) or front-end warning.
type Warning struct {
	Base
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
	URL     string `json:"url,omitempty"`
	Line    int    `json:"line,omitempty"` // 1-based, 0 when not tied to a line
}

// StepStarted is sent when a step begins.
type StepStarted struct {
	Base
	Step int `json:"step"`
	// Container is the id of the temporary container for RUN steps.
	Container string `json:"container,omitempty"`
}

// StepLog is one line of a step's output.
type StepLog struct {
	Base
	Step   int    `json:"step"`
	Stream string `json:"stream"` // "stdout" (a RUN's stdout and stderr, one stream in the order written, as docker build shows it), "stderr" or "info"
	Line   string `json:"line"`
}

// StepProgress reports bytes done for a step that moves data (pulls, ADD URL).
type StepProgress struct {
	Base
	Step  int    `json:"step"`
	What  string `json:"what"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// StepCached is sent instead of running a step whose result came from cache.
type StepCached struct {
	Base
	Step    int    `json:"step"`
	Key     string `json:"key"`
	ImageID string `json:"image_id"`
	DiffID  string `json:"diff_id,omitempty"`
	Size    int64  `json:"size"`
	Files   int    `json:"files"`
	// Reason, when set, says why this is a hit though an input changed
	// (a rebuilt stage whose copied files are the same).
	Reason string `json:"reason,omitempty"`
	// Remote, when set, is a hit whose layer is still where the cache
	// came from and whose size and files nobody recorded (a plain image
	// given to --cache-from records none): Size and Files are 0 and mean
	// "not known", and the JSON leaves them out.
	Remote   *RemoteLayer `json:"remote,omitempty"`
	Snapshot *Snapshot    `json:"-"`
}

// RemoteLayer is a cached step's layer that is not downloaded yet.
type RemoteLayer struct {
	// Source names where it is: the --cache-from image.
	Source string `json:"source"`
	// CompressedSize is its blob's size in the image's manifest (gzip
	// bytes; 0 when the manifest is not known).
	CompressedSize int64 `json:"compressed_size,omitempty"`
}

// String is the layer's account for people: "layer in IMAGE, not
// downloaded: size and files not known yet (1.2 MB compressed)".
func (r *RemoteLayer) String() string {
	s := "layer in " + r.Source + ", not downloaded: size and files not known yet"
	if r.CompressedSize > 0 {
		s += " (" + HumanSize(r.CompressedSize) + " compressed)"
	}
	return s
}

// MarshalJSON leaves size and files out of a remote hit: not known is
// not 0.
func (e StepCached) MarshalJSON() ([]byte, error) {
	type plain StepCached
	if e.Remote == nil {
		return json.Marshal(plain(e))
	}
	return json.Marshal(struct {
		plain
		Size  *int64 `json:"size,omitempty"`
		Files *int   `json:"files,omitempty"`
	}{plain: plain(e)})
}

// StepDone is sent when a step finished successfully.
type StepDone struct {
	Base
	Step     int                `json:"step"`
	ImageID  string             `json:"image_id"`          // config digest after the step
	DiffID   string             `json:"diff_id,omitempty"` // layer made by the step, "" if none
	Size     int64              `json:"size"`              // uncompressed layer size in bytes
	Files    int                `json:"files"`             // entries in the change list
	Stats    layers.ChangeStats `json:"stats"`
	Duration time.Duration      `json:"duration_ns"`
	// Reason says why the step was built rather than taken from cache.
	Reason string `json:"reason,omitempty"`
	// PrevInstruction is the instruction the last build had at this step
	// when the reason is that the instruction changed (the TUI marks what
	// changed); "" otherwise.
	PrevInstruction string    `json:"previous_instruction,omitempty"`
	Key             string    `json:"key,omitempty"`
	Snapshot        *Snapshot `json:"-"`
	// Phases and Processes: where the step's time went (timing.go).
	Phases    []Phase   `json:"phases,omitempty"`
	Processes []Process `json:"processes,omitempty"`
}

// StepFailed is sent when a step failed; the build stops after it.
type StepFailed struct {
	Base
	Step     int           `json:"step"`
	Error    string        `json:"error"`
	ExitCode int           `json:"exit_code,omitempty"` // RUN: the command's exit code
	Command  string        `json:"command,omitempty"`
	Last     []string      `json:"last_lines,omitempty"` // last lines of output
	Duration time.Duration `json:"duration_ns"`
	Snapshot *Snapshot     `json:"-"`
	// Phases and Processes: as in StepDone.
	Phases    []Phase   `json:"phases,omitempty"`
	Processes []Process `json:"processes,omitempty"`
}

// BuildDone is the last event of every build.
type BuildDone struct {
	Base
	ImageID  string        `json:"image_id,omitempty"`
	Digest   string        `json:"digest,omitempty"` // manifest digest
	Tags     []string      `json:"tags,omitempty"`
	Outputs  []string      `json:"outputs,omitempty"`
	Size     int64         `json:"size"`
	Layers   int           `json:"layers"`
	Duration time.Duration `json:"duration_ns"`
	// Paused is the time the build spent paused (breakpoints, step by
	// step, a debug shell opened while paused): never part of Duration.
	Paused time.Duration `json:"paused_ns,omitempty"`
	Cached int           `json:"cached"`
	Built  int           `json:"built"`
	Error  string        `json:"error,omitempty"`
	// Line is the Dockerfile line the error is about (0 when none).
	Line int `json:"line,omitempty"`
}

// Paused is sent when the build stops before a step (see Control): after
// --step or Next ("step"), or on a breakpoint's line ("breakpoint").
type Paused struct {
	Base
	Step int    `json:"step"`
	Line int    `json:"line"`
	Why  string `json:"why"`
}

// Resumed is sent when a paused build goes on.
type Resumed struct {
	Base
	Step int `json:"step"`
	// Paused is how long this pause lasted.
	Paused time.Duration `json:"paused_ns"`
}

func (Paused) EventType() string  { return "paused" }
func (Resumed) EventType() string { return "resumed" }

func (PlanReady) EventType() string    { return "plan" }
func (Warning) EventType() string      { return "warning" }
func (StepStarted) EventType() string  { return "step_started" }
func (StepLog) EventType() string      { return "log" }
func (StepProgress) EventType() string { return "progress" }
func (StepCached) EventType() string   { return "step_cached" }
func (StepDone) EventType() string     { return "step_done" }
func (StepFailed) EventType() string   { return "step_failed" }
func (BuildDone) EventType() string    { return "build_done" }

// Now stamps an event with the current time.
func Now() Base { return Base{Time: time.Now()} }
