package event

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strata-build/strata/layers"
)

// Report is the --report FILE document: per step, what it was, whether it
// came from cache and why not, how long it took and what it made.
type Report struct {
	Dockerfile string        `json:"dockerfile"`
	Target     string        `json:"target,omitempty"`
	Started    time.Time     `json:"started"`
	Duration   time.Duration `json:"duration_ns"`
	Seconds    float64       `json:"duration_seconds"`
	// Paused is the time spent paused, never part of Duration.
	Paused    time.Duration `json:"paused_ns,omitempty"`
	ImageID   string        `json:"image_id,omitempty"`
	Digest    string        `json:"digest,omitempty"`
	Tags      []string      `json:"tags,omitempty"`
	Size      int64         `json:"size"`
	Layers    int           `json:"layers"`
	Cached    int           `json:"cached"`
	Built     int           `json:"built"`
	HitRatio  float64       `json:"cache_hit_ratio"`
	Error     string        `json:"error,omitempty"`
	ErrorLine int           `json:"error_line,omitempty"`
	Steps     []ReportStep  `json:"steps"`
	Warnings  []Warning     `json:"warnings,omitempty"`
	// Space is the wasted-space analysis of the image (build/space;
	// docs/events.md), set by SetSpace once the build is done.
	Space any `json:"space,omitempty"`

	mu sync.Mutex
}

// MarshalJSON leaves size, files and changes out of a remote step: not
// known is not 0.
func (s ReportStep) MarshalJSON() ([]byte, error) {
	type plain ReportStep
	if s.Remote == nil || s.Status != "cached" {
		return json.Marshal(plain(s))
	}
	return json.Marshal(struct {
		plain
		Size    *int64              `json:"size,omitempty"`
		Files   *int                `json:"files,omitempty"`
		Changes *layers.ChangeStats `json:"changes,omitempty"`
	}{plain: plain(s)})
}

// ReportStep is one step of the report.
type ReportStep struct {
	Index       int                `json:"index"`
	Stage       string             `json:"stage"`
	Number      string             `json:"number"` // "2/5"
	Instruction string             `json:"instruction"`
	Line        int                `json:"line"`
	EndLine     int                `json:"end_line,omitempty"`
	Status      string             `json:"status"` // cached | built | failed | skipped
	Reason      string             `json:"reason,omitempty"`
	Key         string             `json:"cache_key,omitempty"`
	Duration    time.Duration      `json:"duration_ns"`
	Seconds     float64            `json:"duration_seconds"`
	ImageID     string             `json:"image_id,omitempty"`
	Layer       string             `json:"layer,omitempty"` // diffID
	Size        int64              `json:"size"`
	Files       int                `json:"files"`
	Changes     layers.ChangeStats `json:"changes"`
	ExitCode    int                `json:"exit_code,omitempty"`
	Error       string             `json:"error,omitempty"`
	// Phases, Processes (how many a RUN ran), TopProcesses (the longest)
	// and Findings: where the step's time went (timing.go).
	Phases       []Phase   `json:"phases,omitempty"`
	Processes    int       `json:"processes,omitempty"`
	TopProcesses []Process `json:"top_processes,omitempty"`
	Findings     []string  `json:"findings,omitempty"`
	// Remote: a cached step whose layer is still in a --cache-from image
	// that recorded no size (StepCached.Remote); size, files and changes
	// are left out, not known.
	Remote *RemoteLayer `json:"remote,omitempty"`

	started time.Time
	kind    StepKind
	stage   int
}

// Observe takes one build event (use as Executor.Observe).
func (r *Report) Observe(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	step := func(i int) *ReportStep {
		if i >= 0 && i < len(r.Steps) {
			return &r.Steps[i]
		}
		return nil
	}
	switch ev := ev.(type) {
	case PlanReady:
		// A new build (the TUI rebuilds on save): start over.
		r.Warnings, r.Error, r.ErrorLine = nil, "", 0
		r.Dockerfile, r.Target, r.Started = ev.Dockerfile, ev.Target, ev.Time
		r.Steps = make([]ReportStep, len(ev.Steps))
		for i, s := range ev.Steps {
			name := s.StageName
			if name == "" {
				name = fmt.Sprintf("stage-%d", s.Stage)
			}
			r.Steps[i] = ReportStep{Index: i, Stage: name, Number: fmt.Sprintf("%d/%d", s.Number, s.StageSteps),
				Instruction: s.Text, Line: s.StartLine, EndLine: s.EndLine, Status: "skipped", kind: s.Kind, stage: s.Stage}
		}
	case Warning:
		r.Warnings = append(r.Warnings, ev)
	case StepLog:
		// The reason a step missed the cache, also for a step that fails.
		if s := step(ev.Step); s != nil && ev.Stream == "info" && strings.HasPrefix(ev.Line, "cache miss: ") && s.Reason == "" {
			s.Reason = strings.TrimPrefix(ev.Line, "cache miss: ")
		}
	case StepStarted:
		if s := step(ev.Step); s != nil && (s.started.IsZero() || s.Status == "cached" || s.Status == "failed") {
			s.started = ev.Time // a step walked again starts anew
		}
	case StepCached:
		if s := step(ev.Step); s != nil {
			s.Status, s.Key, s.ImageID, s.Layer, s.Size, s.Files = "cached", ev.Key, ev.ImageID, ev.DiffID, ev.Size, ev.Files
			s.Remote = ev.Remote
			if ev.Snapshot != nil {
				s.Changes, _, _ = ev.Snapshot.ChangeStats()
			}
			if !s.started.IsZero() {
				s.Duration = ev.Time.Sub(s.started)
			}
		}
	case StepDone:
		if s := step(ev.Step); s != nil {
			// ONBUILD triggers finish under their FROM step: keep the sums.
			if s.Status != "built" { // a step walked again (a shared-cache layer failed): its last outcome
				s.Size, s.Files, s.Changes = 0, 0, layers.ChangeStats{}
			}
			s.Remote = nil
			s.Status, s.Reason, s.Key, s.ImageID = "built", ev.Reason, ev.Key, ev.ImageID
			if ev.DiffID != "" {
				s.Layer = ev.DiffID
			}
			s.Size += ev.Size
			s.Files += ev.Files
			s.Changes.Added += ev.Stats.Added
			s.Changes.Modified += ev.Stats.Modified
			s.Changes.Deleted += ev.Stats.Deleted
			s.Changes.Bytes += ev.Stats.Bytes
			if !s.started.IsZero() {
				s.Duration = ev.Time.Sub(s.started)
			} else {
				s.Duration = ev.Duration
			}
			s.timing(ev.Duration, ev.Phases, ev.Processes, ev.Files)
			r.cause(s)
		}
	case StepFailed:
		if s := step(ev.Step); s != nil {
			s.Status, s.Error, s.ExitCode, s.Duration = "failed", ev.Error, ev.ExitCode, ev.Duration
			s.timing(ev.Duration, ev.Phases, ev.Processes, 0)
			r.cause(s)
		}
	case BuildDone:
		r.Duration, r.Paused, r.ImageID, r.Digest, r.Tags, r.Size, r.Layers = ev.Duration, ev.Paused, ev.ImageID, ev.Digest, ev.Tags, ev.Size, ev.Layers
		r.Cached, r.Built, r.Error, r.ErrorLine = ev.Cached, ev.Built, ev.Error, ev.Line
		// Over the steps that ran to an end, failed ones included.
		n := r.Cached + r.Built
		for _, st := range r.Steps {
			if st.Status == "failed" {
				n++
			}
		}
		r.HitRatio = 0
		if n > 0 {
			r.HitRatio = float64(r.Cached) / float64(n)
		}
	}
}

// cause adds the finding of a step rebuilt because an earlier one was.
func (r *Report) cause(s *ReportStep) {
	reason := func(j int) string {
		if r.Steps[j].Status == "cached" {
			return ""
		}
		return r.Steps[j].Reason
	}
	infos := make([]StepInfo, len(r.Steps))
	for j, st := range r.Steps {
		infos[j] = StepInfo{Index: j, Kind: st.kind, Text: st.Instruction, StartLine: st.Line, Stage: st.stage}
	}
	j, ok := RebuildCause(infos, reason, s.Index)
	if !ok || s.Duration < time.Second {
		return
	}
	c := r.Steps[j]
	s.Findings = append(s.Findings, Findings(StepTiming{Kind: s.kind, Duration: s.Duration, Reason: s.Reason,
		Cause: c.Instruction, CauseLine: c.Line, CauseReason: c.Reason})...)
}

// timing records a step's phases, its process summary and findings.
func (s *ReportStep) timing(d time.Duration, phases []Phase, procs []Process, files int) {
	if len(phases) == 0 && len(procs) == 0 {
		return
	}
	s.Phases, s.Processes, s.TopProcesses = phases, len(procs), TopProcesses(procs, 10)
	s.Findings = Findings(StepTiming{Kind: s.kind, Duration: d, Phases: phases, Processes: procs, Files: files, Reason: s.Reason, Text: s.Instruction})
}

// WriteTo writes the report as indented JSON.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	r.Seconds = r.Duration.Seconds()
	for i := range r.Steps {
		r.Steps[i].Seconds = r.Steps[i].Duration.Seconds()
	}
	b, err := json.MarshalIndent(r, "", "  ")
	r.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(append(b, '\n'))
	return int64(n), err
}

// WriteFile writes the report to file atomically.
func (r *Report) WriteFile(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("--report %s: %w", file, err)
	}
	err := layers.WriteFileAtomic(file, func(w io.Writer) error {
		_, err := r.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("--report %s: %w", file, err)
	}
	return nil
}
