package build

import (
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// emptyLayerDiffID is the diff_id of an empty layer: a tar of nothing
// (1024 zero bytes), the layer docker build keeps for a step that made one
// but changed nothing.
const emptyLayerDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// TestEmptyLayersKeptAsDocker: a RUN that changes nothing and a WORKDIR of
// a directory that exists each keep a layer, an empty one, in
// rootfs.diff_ids and a history entry without empty_layer, as docker build
// (BuildKit) does: its front end commits RUN, COPY, ADD and WORKDIR (but
// WORKDIR /) to the history with a layer. WORKDIR / makes none.
func TestEmptyLayersKeptAsDocker(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	df := "FROM scratch\nCOPY a /srv/a\nRUN true\nWORKDIR /srv\nWORKDIR /\nWORKDIR /new\nENV X=1\n"
	fr := &fakeRunner{}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": df, "a": "1"})
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	got := histories(r.cfg())
	want := []hist{
		{"COPY a /srv/a # buildkit", false},
		{"RUN /bin/sh -c true # buildkit", false},
		{"WORKDIR /srv", false},
		{"WORKDIR /", true},
		{"WORKDIR /new", false},
		{"ENV X=1", true},
	}
	if len(got) != len(want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("history[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	ids := r.cfg().RootFS.DiffIDs
	if len(ids) != 4 {
		t.Fatalf("%d layers %v, want 4: COPY, RUN (empty), WORKDIR /srv (empty), WORKDIR /new", len(ids), ids)
	}
	if ids[1].String() != emptyLayerDiffID || ids[2].String() != emptyLayerDiffID || ids[3].String() == emptyLayerDiffID {
		t.Errorf("layers %v: want the RUN's and WORKDIR /srv's to be the empty layer %s", ids, emptyLayerDiffID)
	}
	// The step events say so: a layer, no files.
	for _, ev := range r.events {
		if d, ok := ev.(event.StepDone); ok && (d.Step == 2 || d.Step == 3) && (d.DiffID != emptyLayerDiffID || d.Files != 0) {
			t.Errorf("step %d done: diff %s, %d files; want the empty layer, 0 files", d.Step, d.DiffID, d.Files)
		}
	}
	// A cached rebuild makes the same image.
	r2 := buildIn(t, store, frontend.Options{ContextDir: dir}, fr).mustOK(t)
	if r2.res.ImageID != r.res.ImageID {
		t.Errorf("cached rebuild: image %s, want %s", r2.res.ImageID, r.res.ImageID)
	}
}
