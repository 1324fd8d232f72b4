package build

import (
	"slices"
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
}

// done records a metadata-only step: a history entry with empty_layer.
func (r *stepRun) done(created string) {
	e, st, step, t0 := r.e, r.st, r.step, r.t0
	st.cfg.History = append(st.cfg.History, v1.History{
		Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: created, Comment: layers.HistoryComment, EmptyLayer: true,
	})
	stampCreated(st.cfg)
	snap := &event.Snapshot{Layers: slices.Clone(st.cfg.RootFS.DiffIDs), Config: st.cfg.DeepCopy(), Parent: st.snap, Step: step}
	st.snap = snap
	done := event.StepDone{Base: event.Now(), Step: step, ImageID: configID(st.cfg), Duration: time.Since(t0), Snapshot: snap}
	e.finishBuilt(st, &done)
	e.emit(done)
}

// doneNoHistory finishes a metadata-only step that writes no history entry.
func (r *stepRun) doneNoHistory() {
	e, st, step, t0 := r.e, r.st, r.step, r.t0
	snap := &event.Snapshot{Layers: slices.Clone(st.cfg.RootFS.DiffIDs), Config: st.cfg.DeepCopy(), Parent: st.snap, Step: step}
	st.snap = snap
	done := event.StepDone{Base: event.Now(), Step: step, ImageID: configID(st.cfg), Duration: time.Since(t0), Snapshot: snap}
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
	meta, err := e.Store.CommitLayer(pl)
	if err != nil {
		return err
	}
	st.cfg.RootFS.DiffIDs = append(st.cfg.RootFS.DiffIDs, meta.DiffID)
	st.cfg.History = append(st.cfg.History, v1.History{
		Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: created, Comment: layers.HistoryComment,
	})
	stampCreated(st.cfg)
	snap := &event.Snapshot{Layers: slices.Clone(st.cfg.RootFS.DiffIDs), Config: st.cfg.DeepCopy(), Parent: st.snap, Step: step, Changes: pl.Changes, DiffID: meta.DiffID}
	st.snap = snap
	done := event.StepDone{Base: event.Now(), Step: step, ImageID: configID(st.cfg), Duration: time.Since(t0), Snapshot: snap,
		Files: len(pl.Changes), Stats: layers.Stats(pl.Changes), DiffID: meta.DiffID.String(), Size: meta.Size}
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
	r.e.emit(event.StepFailed{Base: event.Now(), Step: r.step, Error: err.Error(), Duration: time.Since(r.t0)})
}
