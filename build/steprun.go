package build

import (
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// stepRun is one step being run: the stage it changes, its plan index and
// when it started. The executor's step functions take it, and it finishes
// the step: done (a metadata-only step), layerDone (a step that made a
// change) or fail.
type stepRun struct {
	e    *Executor
	st   *stageState
	step int
	t0   time.Time

	mu        sync.Mutex
	phases    []event.Phase
	open      int // 1 + the index of the phase the next phase() or layerDone ends, 0 when none
	processes []event.Process
}

// phase starts the step's phase name; the returned func ends it. Phases
// may overlap (the func may be called from another goroutine).
func (r *stepRun) phase(name string) func() {
	r.mu.Lock()
	i := len(r.phases)
	r.phases = append(r.phases, event.Phase{Name: name, Start: time.Since(r.t0), End: -1})
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		if r.phases[i].End < 0 {
			r.phases[i].End = time.Since(r.t0)
		}
		r.mu.Unlock()
	}
}

// phaseAt records a phase whose times are known (from the sandbox).
func (r *stepRun) phaseAt(name string, start, end time.Time, detail string) {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return
	}
	r.mu.Lock()
	r.phases = append(r.phases, event.Phase{Name: name, Start: start.Sub(r.t0), End: end.Sub(r.t0), Detail: detail})
	r.mu.Unlock()
}

// then ends the open phase (if any) and opens name, which the next then,
// timing or layerDone ends.
func (r *stepRun) then(name string) {
	r.closeOpen()
	r.mu.Lock()
	r.phases = append(r.phases, event.Phase{Name: name, Start: time.Since(r.t0), End: -1})
	r.open = len(r.phases)
	r.mu.Unlock()
}

func (r *stepRun) closeOpen() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open > 0 && r.phases[r.open-1].End < 0 {
		r.phases[r.open-1].End = time.Since(r.t0)
	}
	r.open = 0
}

// thenSnapshot runs fn (the copy) and then opens the snapshot phase,
// which layerDone ends.
func (r *stepRun) thenSnapshot(fn func(*stager) error) func(*stager) error {
	return func(s *stager) error {
		defer r.then("snapshot")
		return fn(s)
	}
}

// noteContextFiles tells in the cache phase how many context paths (files
// and directories) the key checksums, and under which top directory most
// are.
func (r *stepRun) noteContextFiles() {
	if r.st.pending == nil || r.st.pending.in == nil || r.st.pending.in.Files == nil || r.st.pending.in.Files.Count == 0 {
		return
	}
	files := r.st.pending.in.Files
	detail := event.Thousands(files.Count) + " context paths checksummed"
	top, n := files.Top, files.TopCount // counted as the sums were written
	if n*2 > files.Count && n >= 1000 {
		detail += ", " + event.Thousands(n) + " of them under " + top + "/ (add it to .dockerignore if the image does not need it)"
	}
	r.mu.Lock()
	for i := len(r.phases) - 1; i >= 0; i-- {
		if r.phases[i].Name == "cache" {
			r.phases[i].Detail = detail
			break
		}
	}
	r.mu.Unlock()
}

// timing is the step's phases (open ones end now) and processes.
func (r *stepRun) timing() ([]event.Phase, []event.Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Since(r.t0)
	out := slices.Clone(r.phases)
	for i := range out {
		if out[i].End < 0 {
			out[i].End = now
		}
	}
	return out, r.processes
}

// done records a metadata-only step: a history entry with empty_layer.
func (r *stepRun) done(created string) {
	e, st, step, t0 := r.e, r.st, r.step, r.t0
	st.cfg.History = append(st.cfg.History, v1.History{
		Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: created, Comment: layers.HistoryComment, EmptyLayer: true,
	})
	stampCreated(st.cfg)
	snap := newSnapshot(st, step)
	st.snap = snap
	done := event.StepDone{Base: event.Now(), Step: step, ImageID: configID(st.cfg), Duration: time.Since(t0), Snapshot: snap}
	done.Phases, done.Processes = r.timing()
	e.finishBuilt(st, &done)
	e.emit(done)
}

// doneNoHistory finishes a metadata-only step that writes no history entry.
func (r *stepRun) doneNoHistory() {
	e, st, step, t0 := r.e, r.st, r.step, r.t0
	snap := newSnapshot(st, step)
	st.snap = snap
	done := event.StepDone{Base: event.Now(), Step: step, ImageID: configID(st.cfg), Duration: time.Since(t0), Snapshot: snap}
	done.Phases, done.Processes = r.timing()
	e.finishBuilt(st, &done)
	e.emit(done)
}

// layerDone records a step that makes a layer (RUN, COPY, ADD, WORKDIR
// of a directory other than /): the layer and a history entry. A step
// that changed nothing still adds its layer, an empty tar (diff_id
// sha256:5f70bf18a086…), as BuildKit does: its Dockerfile front end
// commits these steps to the history with a layer (commitToHistory's
// withLayer) and the exporter writes one layer per snapshot, so docker's
// history and rootfs.diff_ids count them.
func (r *stepRun) layerDone(created string, pl *layers.PendingLayer) error {
	e, st, step, t0 := r.e, r.st, r.step, r.t0
	r.closeOpen()
	endCommit := r.phase("commit")
	meta, err := e.Store.CommitLayer(pl)
	endCommit()
	if err != nil {
		return err
	}
	st.cfg.RootFS.DiffIDs = append(st.cfg.RootFS.DiffIDs, meta.DiffID)
	st.cfg.History = append(st.cfg.History, v1.History{
		Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: created, Comment: layers.HistoryComment,
	})
	stampCreated(st.cfg)
	snap := newSnapshot(st, step)
	stats := pl.Stats
	snap.Stats, snap.Files, snap.DiffID = &stats, pl.Files, meta.DiffID
	st.snap = snap
	done := event.StepDone{Base: event.Now(), Step: step, ImageID: configID(st.cfg), Duration: time.Since(t0), Snapshot: snap,
		Files: pl.Files, Stats: pl.Stats, DiffID: meta.DiffID.String(), Size: meta.Size}
	done.Phases, done.Processes = r.timing()
	e.finishBuilt(st, &done)
	e.emit(done)
	return nil
}

// stampCreated dates the config as the image is dated when saved: as old
// as its last history entry (to the second). Every step's config is
// stamped, so a step's image id (its config digest) is the id of the image
// saved if the build ended there, and the last step's id is the built
// image's, as with docker's builder.
func stampCreated(cfg *v1.ConfigFile) {
	if n := len(cfg.History); n > 0 && !cfg.History[n-1].Created.IsZero() {
		cfg.Created = v1.Time{Time: cfg.History[n-1].Created.UTC().Truncate(time.Second)}
	}
}

// fail tells that the step failed with err.
func (r *stepRun) fail(err error) {
	phases, procs := r.timing()
	r.e.emit(event.StepFailed{Base: event.Now(), Step: r.step, Error: err.Error(), Duration: time.Since(r.t0), Phases: phases, Processes: procs})
}

// newSnapshot is the snapshot of the stage after step: its config is
// st.cfg as it is now (snapConfig).
func newSnapshot(st *stageState, step int) *event.Snapshot {
	cfg := snapConfig(st.cfg, st.snap)
	return &event.Snapshot{Layers: cfg.RootFS.DiffIDs, Config: cfg, Parent: st.snap, Step: step}
}

// snapConfig is a copy of cfg for a step's snapshot. A snapshot's config
// is never changed, so it shares with the snapshot before it (prev) what
// did not change, and its history and diff_ids, which steps only append
// to, share cfg's arrays, cut to their length and capacity (an append to
// them copies): N metadata steps hold one history and one set of each
// unchanged list or map, not N (a LABEL step still copies the labels).
func snapConfig(cfg *v1.ConfigFile, prev *event.Snapshot) *v1.ConfigFile {
	var p v1.ConfigFile
	if prev != nil && prev.Config != nil {
		p = *prev.Config
	}
	out := *cfg
	out.History = slices.Clip(cfg.History)
	out.RootFS.DiffIDs = slices.Clip(cfg.RootFS.DiffIDs)
	out.OSFeatures = shareSlice(p.OSFeatures, cfg.OSFeatures)
	c, pc := &out.Config, &p.Config
	c.Cmd = shareSlice(pc.Cmd, c.Cmd)
	c.Entrypoint = shareSlice(pc.Entrypoint, c.Entrypoint)
	c.Env = shareSlice(pc.Env, c.Env)
	c.OnBuild = shareSlice(pc.OnBuild, c.OnBuild)
	c.Shell = shareSlice(pc.Shell, c.Shell)
	c.Labels = shareMap(pc.Labels, c.Labels)
	c.Volumes = shareMap(pc.Volumes, c.Volumes)
	c.ExposedPorts = shareMap(pc.ExposedPorts, c.ExposedPorts)
	if h := c.Healthcheck; h != nil && !(pc.Healthcheck != nil && reflect.DeepEqual(*h, *pc.Healthcheck)) {
		hc := *h
		hc.Test = slices.Clone(h.Test)
		c.Healthcheck = &hc
	} else if h != nil {
		c.Healthcheck = pc.Healthcheck
	}
	return &out
}

// shareSlice is prev when it holds what cur does (nil alike), else a copy
// of cur.
func shareSlice[T comparable](prev, cur []T) []T {
	if (prev == nil) == (cur == nil) && slices.Equal(prev, cur) {
		return prev
	}
	return slices.Clone(cur)
}

func shareMap[V comparable](prev, cur map[string]V) map[string]V {
	if (prev == nil) == (cur == nil) && maps.Equal(prev, cur) {
		return prev
	}
	return maps.Clone(cur)
}

// snapID is the image id of a snapshot already emitted ("" when none).
func (e *Executor) snapID(snap *event.Snapshot) string {
	if snap == nil {
		return ""
	}
	if v, ok := e.stepIDs.Load(snap); ok {
		return v.(string)
	}
	return ""
}

// keepStepDelta records the image of a step that made no layer as what it
// changed in the step before's image (layers.SaveIntermediateDelta), so
// its config is written whole only when asked for. false when it cannot
// (a layer step, a first step, a step before not recorded): the caller
// stores it whole.
func (e *Executor) keepStepDelta(snap *event.Snapshot, id string) bool {
	p := snap.Parent
	if p == nil || p.Config == nil || !slices.Equal(p.Config.RootFS.DiffIDs, snap.Config.RootFS.DiffIDs) {
		return false
	}
	h, err := v1.NewHash(id)
	if err != nil {
		return false
	}
	if e.Store.HasIntermediate(h) {
		return true
	}
	pid, err := v1.NewHash(e.snapID(p))
	if err != nil {
		return false
	}
	d, err := layers.DiffConfig(p.Config, snap.Config)
	if err != nil {
		return false
	}
	return e.Store.SaveIntermediateDelta(pid, h, d, snap.Config.Created.Time) == nil
}
