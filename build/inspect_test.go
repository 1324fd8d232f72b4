package build

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

func TestCleanCreatedBy(t *testing.T) {
	cases := []struct{ in, want string }{
		// BuildKit
		{"RUN /bin/sh -c apk add --no-cache redis # buildkit", "RUN apk add --no-cache redis"},
		{"RUN |2 A=1 B=two words /bin/sh -c make $A # buildkit", "RUN make $A"},
		{"RUN |1 A=2 echo exec form # buildkit", "RUN echo exec form"},
		{"RUN /bin/bash -o pipefail -c curl x | sh # buildkit", "RUN curl x | sh"},
		{"COPY app/ ./ # buildkit", "COPY app/ ./"},
		{"ADD rootfs.tar / # buildkit", "ADD rootfs.tar /"},
		{"ENV A=b", "ENV A=b"},
		{"WORKDIR /srv/app", "WORKDIR /srv/app"},
		{`CMD ["/bin/sh" "/srv/app/server.sh"]`, `CMD ["/bin/sh" "/srv/app/server.sh"]`},
		{"RUN /bin/sh -c cat <<EOF > /f\nline one\nEOF # buildkit", "RUN cat <<EOF > /f line one EOF"},
		// the classic builder (docker build without BuildKit, podman, buildah)
		{"/bin/sh -c #(nop)  CMD [\"/bin/sh\"]", `CMD ["/bin/sh"]`},
		{"/bin/sh -c #(nop) ADD file:2a1fc9351afe in / ", "ADD file:2a1fc9351afe in /"},
		{"/bin/sh -c apk add --no-cache \t\tca-certificates", "RUN apk add --no-cache ca-certificates"},
		{"|2 A=1 B=2 /bin/sh -c make", "RUN make"},
		{"/bin/sh -c #(nop) WORKDIR /app", "WORKDIR /app"},
		// other tools
		{"", ""},
		{"apko", "apko"},
		{"  bazel build //x  ", "bazel build //x"},
	}
	for _, c := range cases {
		if got := snapshot.CleanCreatedBy(c.in); got != c.want {
			t.Errorf("CleanCreatedBy(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// inspect runs Inspect and Stream and collects the events.
func inspect(t *testing.T, s *layers.Store, ref string) (*snapshot.Inspection, []event.Event) {
	t.Helper()
	in, err := snapshot.Inspect(context.Background(), s, ref)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", ref, err)
	}
	ch := make(chan event.Event, 8)
	errc := make(chan error, 1)
	go func() { errc <- in.Stream(context.Background(), ch) }()
	var evs []event.Event
	for ev := range ch {
		evs = append(evs, ev)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Stream: %v", err)
	}
	return in, evs
}

func eventTypes(evs []event.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.EventType())
	}
	return strings.Join(out, " ")
}

func stepDones(evs []event.Event) []event.StepDone {
	var out []event.StepDone
	for _, e := range evs {
		if d, ok := e.(event.StepDone); ok {
			out = append(out, d)
		}
	}
	return out
}

// changeKey is a change without its times (a tar keeps seconds only).
func changeKeys(cs []layers.Change) []string {
	var out []string
	for _, c := range cs {
		s := fmt.Sprintf("%s %s %s size=%d mode=%v", c.Kind, c.Type, c.Path, c.Size, c.Mode)
		if c.Opaque {
			s += " opaque"
		}
		if c.Linkname != "" {
			s += " -> " + c.Linkname
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

const inspectDockerfile = "FROM scratch\nCOPY a /a\nENV X=1\nCOPY sub/ /etc/sub/\nCOPY b /a\nCMD [\"/a\"]\n"

// TestInspectBuiltImage: an image strata built reads back as its build:
// one step per history entry, snapshots with the layers so far, the
// config's history cut at the step, and the change lists kept with the
// layers.
func TestInspectBuiltImage(t *testing.T) {
	store := newStore(t)
	r := build(t, store, inspectDockerfile, map[string]string{"a": "A", "b": "BB", "sub/x": "x", "sub/l": "->x"}, frontend.Options{Tags: []string{"insp:1"}}).mustOK(t)
	in, evs := inspect(t, store, "insp:1")

	if got, want := eventTypes(evs), "plan step_done step_done step_done step_done step_done build_done"; got != want {
		t.Fatalf("events %s\nwant   %s", got, want)
	}
	plan := evs[0].(event.PlanReady)
	if !plan.Inspect || plan.Dockerfile != "insp:1" {
		t.Errorf("plan Inspect=%v Dockerfile=%q", plan.Inspect, plan.Dockerfile)
	}
	wantSrc := "COPY a /a\nENV X=1\nCOPY sub/ /etc/sub/\nCOPY b /a\nCMD [\"/a\"]\n"
	if string(plan.Source) != wantSrc {
		t.Errorf("Source:\n%s\nwant:\n%s", plan.Source, wantSrc)
	}
	var kinds []string
	var meta []bool
	for i, s := range plan.Steps {
		kinds = append(kinds, string(s.Kind))
		meta = append(meta, s.MetadataOnly)
		if s.Index != i || s.Number != i+1 || s.StageSteps != 5 || s.StartLine != i+1 || s.EndLine != i+1 {
			t.Errorf("step %d: %+v", i, s)
		}
	}
	if got := strings.Join(kinds, " "); got != "COPY ENV COPY COPY CMD" {
		t.Errorf("kinds %s", got)
	}
	if !slices.Equal(meta, []bool{false, true, false, false, true}) {
		t.Errorf("metadata only %v", meta)
	}

	ids := r.cfg().RootFS.DiffIDs
	dones := stepDones(evs)
	wantLayers := []int{1, 1, 2, 3, 3}
	builtStep := []int{1, -1, 3, 4, -1} // the build's step that made each layer
	for i, d := range dones {
		s := d.Snapshot
		if d.Step != i || s == nil || s.Step != i {
			t.Fatalf("StepDone %d: step %d snapshot %+v", i, d.Step, s)
		}
		if len(s.Layers) != wantLayers[i] || !slices.Equal(s.Layers, ids[:wantLayers[i]]) || !slices.Equal(s.Config.RootFS.DiffIDs, s.Layers) {
			t.Errorf("step %d layers %v, want the first %d of %v", i, s.Layers, wantLayers[i], ids)
		}
		if len(s.Config.History) != i+1 || s.Config.History[i].CreatedBy != r.cfg().History[i].CreatedBy {
			t.Errorf("step %d history has %d entries", i, len(s.Config.History))
		}
		if i > 0 && s.Parent != dones[i-1].Snapshot {
			t.Errorf("step %d parent is not step %d's snapshot", i, i-1)
		}
		if b := builtStep[i]; b < 0 {
			if d.DiffID != "" || s.Changes != nil || d.Files != 0 {
				t.Errorf("metadata step %d has layer %q, %d changes", i, d.DiffID, len(s.Changes))
			}
		} else {
			bd := r.stepDone(t, b)
			if d.DiffID != bd.DiffID || s.DiffID.String() != bd.DiffID || d.Size != bd.Size || d.Files != bd.Files || d.Stats != bd.Stats {
				t.Errorf("step %d: layer %s size %d files %d %+v, the build said %s %d %d %+v", i, d.DiffID, d.Size, d.Files, d.Stats, bd.DiffID, bd.Size, bd.Files, bd.Stats)
			}
			if got, want := changeKeys(snapChanges(t, store, s)), changeKeys(snapChanges(t, store, bd.Snapshot)); !slices.Equal(got, want) {
				t.Errorf("step %d changes\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
	if dones[4].ImageID != r.res.ImageID.String() || dones[0].ImageID != "" {
		t.Errorf("image ids %q %q: only the last step is the image", dones[0].ImageID, dones[4].ImageID)
	}
	bd := evs[len(evs)-1].(event.BuildDone)
	if bd.ImageID != r.res.ImageID.String() || bd.Digest != r.res.Manifest.String() || bd.Layers != 3 || bd.Size != r.res.Size || bd.Error != "" {
		t.Errorf("BuildDone %+v, want image %s size %d", bd, r.res.ImageID, r.res.Size)
	}
	if in.ImageID != r.res.ImageID {
		t.Errorf("ImageID %s", in.ImageID)
	}
}

// TestInspectExported: the same image saved as an OCI layout and a docker
// tarball, inspected from a fresh store, gives the same steps and the
// change lists computed from the layers' tars equal the ones the build
// recorded.
func TestInspectExported(t *testing.T) {
	store := newStore(t)
	r := build(t, store, inspectDockerfile, map[string]string{"a": "A", "b": "BB", "sub/x": "x", "sub/l": "->x"}, frontend.Options{}).mustOK(t)
	id := r.res.ImageID.String()
	dir := t.TempDir()
	oci, archive := filepath.Join(dir, "oci"), filepath.Join(dir, "img.tar")
	if what, err := snapshot.SaveImage(store, id, "oci:"+oci+":v1"); err != nil || !strings.Contains(what, "tag v1") {
		t.Fatalf("save oci: %q %v", what, err)
	}
	if what, err := snapshot.SaveImage(store, id, "docker-archive:"+archive+":app:1"); err != nil || !strings.Contains(what, "app:1") {
		t.Fatalf("save docker archive: %q %v", what, err)
	}
	for name, ref := range map[string]string{"oci-tag": "oci:" + oci + ":v1", "oci": "oci:" + oci, "docker-archive": "docker-archive:" + archive} {
		t.Run(name, func(t *testing.T) {
			fresh := newStore(t)
			in, evs := inspect(t, fresh, ref)
			if in.ImageID != r.res.ImageID {
				t.Errorf("image id %s, want %s", in.ImageID, r.res.ImageID)
			}
			if _, err := fresh.LayerChanges(r.cfg().RootFS.DiffIDs[0]); err == nil {
				t.Fatal("an imported layer has a stored change list: this test would not test the tar reader")
			}
			plan := evs[0].(event.PlanReady)
			if !strings.HasPrefix(string(plan.Source), "COPY a /a\nENV X=1\n") {
				t.Errorf("Source %q", plan.Source)
			}
			for i, d := range stepDones(evs) {
				b := []int{1, -1, 3, 4, -1}[i]
				if b < 0 {
					continue
				}
				want := r.stepDone(t, b)
				if got, w := changeKeys(snapChanges(t, fresh, d.Snapshot)), changeKeys(snapChanges(t, store, want.Snapshot)); !slices.Equal(got, w) {
					t.Errorf("step %d changes from the tar\n%s\nwant (as built)\n%s", i, strings.Join(got, "\n"), strings.Join(w, "\n"))
				}
			}
		})
	}
}

// dockerArchive writes a `docker save` tarball of one image.
func dockerArchive(t *testing.T, file, history string, layerTars ...[]byte) {
	t.Helper()
	var diffIDs, paths []string
	var ents []tarEntry
	for _, l := range layerTars {
		d := sha256Hex(l)
		diffIDs = append(diffIDs, `"sha256:`+d+`"`)
		paths = append(paths, `"`+d+`/layer.tar"`)
		ents = append(ents, tarEntry{name: d + "/", typ: tar.TypeDir, mode: 0o755}, tarEntry{name: d + "/layer.tar", body: string(l)})
	}
	cfg := fmt.Sprintf(`{"architecture":%q,"os":"linux","config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":[%s]}%s}`,
		runtime.GOARCH, strings.Join(diffIDs, ","), history)
	cfgName := sha256Hex([]byte(cfg)) + ".json"
	manifest := fmt.Sprintf(`[{"Config":%q,"RepoTags":["hand:made"],"Layers":[%s]}]`, cfgName, strings.Join(paths, ","))
	ents = append([]tarEntry{{name: "manifest.json", body: manifest}, {name: cfgName, body: cfg}}, ents...)
	if err := os.WriteFile(file, makeTar(t, ents), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInspectWhiteoutsWithoutHistory: an image from another tool, with
// whiteouts and an opaque directory and no history at all, reads as one
// step per layer; deletions, modifications and the opaque directory are
// found from the tar against the layer below.
func TestInspectWhiteoutsWithoutHistory(t *testing.T) {
	l1 := makeTar(t, []tarEntry{
		{name: "d/", typ: tar.TypeDir, mode: 0o755},
		{name: "d/x", body: "x"},
		{name: "d/y", body: "y"},
		{name: "o/", typ: tar.TypeDir, mode: 0o755},
		{name: "o/z", body: "z"},
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/busybox", body: "bb", mode: 0o755},
	})
	l2 := makeTar(t, []tarEntry{
		{name: "d/.wh.x"},
		{name: "d/y", body: "yy"},
		{name: "n", body: "new"},
		{name: "o/", typ: tar.TypeDir, mode: 0o700},
		{name: "o/.wh..wh..opq"},
		{name: "o/z", body: "z2"},
		{name: ".wh.nothing"},
		{name: "bin/tool", body: "t"},
		{name: "bin/sh", typ: tar.TypeLink, link: "bin/tool"},
	})
	file := filepath.Join(t.TempDir(), "img.tar")
	dockerArchive(t, file, "", l1, l2)
	store := newStore(t)
	in, evs := inspect(t, store, "docker-archive:"+file)
	if got, want := eventTypes(evs), "plan warning step_done step_done build_done"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if w := evs[1].(event.Warning); !strings.Contains(w.Message, "no history") {
		t.Errorf("warning %q", w.Message)
	}
	if string(in.Source) != "layer 1\nlayer 2\n" || in.Steps[1].Kind != "LAYER" || in.Steps[1].MetadataOnly {
		t.Errorf("source %q steps %+v", in.Source, in.Steps)
	}
	d := stepDones(evs)
	if c := snapChanges(t, store, d[0].Snapshot); len(c) != 7 || d[0].Stats.Added != 7 {
		t.Errorf("layer 1: %d changes %+v", len(c), d[0].Stats)
	}
	got := changeKeys(snapChanges(t, store, d[1].Snapshot))
	want := []string{
		"added file /n size=3 mode=-rw-r--r--",
		"added file /o/z size=2 mode=-rw-r--r--", // under an opaque dir: added again, not modified
		"deleted file /d/x size=0 mode=----------",
		"modified dir /o size=0 mode=drwx------ opaque",
		"added file /bin/tool size=1 mode=-rw-r--r--",
		"added hardlink /bin/sh size=0 mode=-rw-r--r-- -> /bin/tool",
		"modified file /d/y size=2 mode=-rw-r--r--",
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("layer 2 changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := d[1].Stats; s.Added != 4 || s.Modified != 2 || s.Deleted != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestInspectHistoryMismatch: a history whose layer entries do not match
// the layers falls back to one step per layer, with a warning; entries
// without a layer are metadata steps with the layers of the step before.
func TestInspectHistoryMismatch(t *testing.T) {
	l1 := makeTar(t, []tarEntry{{name: "a", body: "a"}})
	l2 := makeTar(t, []tarEntry{{name: "b", body: "b"}})
	dir := t.TempDir()

	bad := filepath.Join(dir, "bad.tar")
	dockerArchive(t, bad, `,"history":[{"created_by":"/bin/sh -c #(nop) ADD file:x in /"}]`, l1, l2)
	store := newStore(t)
	in, evs := inspect(t, store, "docker-archive:"+bad)
	if len(in.Steps) != 2 || in.Steps[0].Text != "layer 1" || !strings.Contains(in.Warning, "1 entries that made a layer, but the image has 2 layers") {
		t.Errorf("steps %+v warning %q", in.Steps, in.Warning)
	}
	if evs[1].EventType() != "warning" {
		t.Errorf("no warning event: %s", eventTypes(evs))
	}

	good := filepath.Join(dir, "good.tar")
	dockerArchive(t, good, `,"history":[{"created_by":"/bin/sh -c #(nop) ADD file:x in /"},{"created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true},{"created_by":"","comment":"made by hand"},{"created_by":"","empty_layer":true}]`, l1, l2)
	in, evs = inspect(t, store, "docker-archive:"+good)
	if got, want := string(in.Source), "ADD file:x in /\nCMD [\"sh\"]\n# made by hand\n# (no created_by)\n"; got != want {
		t.Errorf("source %q, want %q", got, want)
	}
	if got := eventTypes(evs); got != "plan step_done step_done step_done step_done build_done" {
		t.Errorf("events %s", got)
	}
	d := stepDones(evs)
	if len(d[1].Snapshot.Layers) != 1 || d[1].DiffID != "" || !in.Steps[1].MetadataOnly || in.Steps[1].Kind != "CMD" {
		t.Errorf("CMD step: layers %d diff %q %+v", len(d[1].Snapshot.Layers), d[1].DiffID, in.Steps[1])
	}
	if len(d[2].Snapshot.Layers) != 2 || d[2].DiffID == "" || in.Steps[2].Kind != "LAYER" || len(snapChanges(t, store, d[2].Snapshot)) != 1 {
		t.Errorf("hand-made layer step: %+v %+v", d[2], in.Steps[2])
	}
	if len(d[3].Snapshot.Layers) != 2 || !in.Steps[3].MetadataOnly || in.Steps[3].Kind != "CONFIG" {
		t.Errorf("empty entry: %+v", in.Steps[3])
	}
}

// TestInspectNoLayers: an image of config changes only has metadata steps
// and no layers.
func TestInspectNoLayers(t *testing.T) {
	store := newStore(t)
	build(t, store, "FROM scratch\nENV A=1\n", nil, frontend.Options{Tags: []string{"meta"}}).mustOK(t)
	in, evs := inspect(t, store, "meta")
	if len(in.Steps) != 1 || !in.Steps[0].MetadataOnly || in.Steps[0].Text != "ENV A=1" {
		t.Errorf("steps %+v", in.Steps)
	}
	if d := stepDones(evs); len(d) != 1 || len(d[0].Snapshot.Layers) != 0 || d[0].Snapshot.Parent != nil {
		t.Errorf("step done %+v", d)
	}
}

func TestInspectUnknown(t *testing.T) {
	store := newStore(t)
	for _, ref := range []string{"NoSuchImage:1", "oci:" + filepath.Join(t.TempDir(), "missing"), "docker-archive:/nonexistent.tar"} {
		if _, err := snapshot.Inspect(context.Background(), store, ref); err == nil {
			t.Errorf("Inspect(%s) did not fail", ref)
		}
	}
	_, err := snapshot.Inspect(context.Background(), store, "NoSuchImage:1") // upper case: no registry reference, so nothing is pulled
	if err == nil || !strings.Contains(err.Error(), "oci:DIR") {
		t.Errorf("error %v does not say what is accepted", err)
	}
}

// TestInspectCanceled: a canceled stream still ends with BuildDone (an
// error) and closes the channel.
func TestInspectCanceled(t *testing.T) {
	store := newStore(t)
	build(t, store, inspectDockerfile, map[string]string{"a": "A", "b": "BB", "sub/x": "x"}, frontend.Options{Tags: []string{"c"}}).mustOK(t)
	in, err := snapshot.Inspect(context.Background(), store, "c")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ch := make(chan event.Event, 16)
	if err := in.Stream(ctx, ch); err == nil {
		t.Error("Stream on a canceled context did not fail")
	}
	var last event.Event
	for ev := range ch {
		last = ev
	}
	if bd, ok := last.(event.BuildDone); !ok || bd.Error == "" {
		t.Errorf("last event %#v", last)
	}
}

func TestParseSaveDest(t *testing.T) {
	cases := []struct {
		in   string
		want snapshot.SaveDest
		err  string
	}{
		{"app", snapshot.SaveDest{Type: "tag", Dest: "app:latest"}, ""},
		{"reg.io:5000/app:1", snapshot.SaveDest{Type: "tag", Dest: "reg.io:5000/app:1"}, ""},
		{"oci:/tmp/x", snapshot.SaveDest{Type: "oci", Dest: "/tmp/x"}, ""},
		{"oci:/tmp/x:v1", snapshot.SaveDest{Type: "oci", Dest: "/tmp/x", Ref: "v1"}, ""},
		{"docker-archive:img.tar", snapshot.SaveDest{Type: "docker", Dest: "img.tar"}, ""},
		{"docker:img.tar:app:1", snapshot.SaveDest{Type: "docker", Dest: "img.tar", Ref: "app:1"}, ""},
		{"type=oci,dest=/tmp/y", snapshot.SaveDest{Type: "oci", Dest: "/tmp/y"}, ""},
		{"", snapshot.SaveDest{}, "where to?"},
		{"oci:", snapshot.SaveDest{}, "needs a directory"},
		{"docker-archive:", snapshot.SaveDest{}, "needs a file"},
		{"two words", snapshot.SaveDest{}, "oci:DIR"},
		{"type=registry", snapshot.SaveDest{}, "pushing is not available"},
	}
	for _, c := range cases {
		got, err := snapshot.ParseSaveDest(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseSaveDest(%q) error %v, want %q", c.in, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseSaveDest(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// TestSaveImage: the save backend tags in the store and writes layouts
// and tarballs that read back as the same image.
func TestSaveImage(t *testing.T) {
	store := newStore(t)
	r := build(t, store, "FROM scratch\nCOPY a /a\n", map[string]string{"a": "A"}, frontend.Options{}).mustOK(t)
	id := r.res.ImageID.String()
	be := snapshot.NewBackend(store, nil)
	if what, err := be.Save(id, "saved:1"); err != nil || what != "tagged saved:1" {
		t.Fatalf("Save tag: %q %v", what, err)
	}
	rec, ok, err := store.LookupImage("saved:1")
	if err != nil || !ok || rec.Config != r.res.ImageID {
		t.Errorf("saved:1 is %v %v %v, want image %s", rec, ok, err, id)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := be.Save(id, "oci:"+dir); err != nil {
		t.Fatal(err)
	}
	img, err := layers.ReadOCILayout(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := img.ConfigName(); h != r.res.ImageID {
		t.Errorf("layout image %s, want %s", h, id)
	}
	// What each destination says it wrote, and that a named one reads
	// back by its name.
	out := t.TempDir()
	for _, c := range []struct {
		dest, what string
		read       func() (v1.Image, error)
	}{
		{"oci:" + out + "/o1", "OCI layout " + out + "/o1", func() (v1.Image, error) { return layers.ReadOCILayout(out+"/o1", "", nil) }},
		{"oci:" + out + "/o2:v1", "OCI layout " + out + "/o2 (tag v1)", func() (v1.Image, error) { return layers.ReadOCILayout(out+"/o2", "v1", nil) }},
		{"docker-archive:" + out + "/d1.tar", "docker archive " + out + "/d1.tar", func() (v1.Image, error) { return layers.ReadDockerArchive(out+"/d1.tar", "") }},
		{"docker:" + out + "/d2.tar:app:2", "docker archive " + out + "/d2.tar (app:2)", func() (v1.Image, error) { return layers.ReadDockerArchive(out+"/d2.tar", "app:2") }},
	} {
		what, err := be.Save(id, c.dest)
		if err != nil || what != c.what {
			t.Errorf("Save %s: %q, %v; want %q", c.dest, what, err, c.what)
			continue
		}
		img, err := c.read()
		if err != nil {
			t.Errorf("%s does not read back: %v", c.dest, err)
			continue
		}
		if h, _ := img.ConfigName(); h != r.res.ImageID {
			t.Errorf("%s holds image %s, want %s", c.dest, h, id)
		}
	}
	if _, err := be.Save("sha256:"+strings.Repeat("0", 64), "x:1"); err == nil {
		t.Error("saving an unknown image id did not fail")
	}
	if _, err := be.Save(id, "oci:"); err == nil {
		t.Error("saving to oci: without a dir did not fail")
	}
	if _, err := snapshot.NewBackend(nil, nil).Save(id, "x"); err == nil {
		t.Error("saving without a store did not fail")
	}
}

// BenchmarkLayerChangesFromTar reads the change list of an imported
// 20,000-file layer over a 10,000-file one (half of its paths exist
// below): only headers are read, the contents are seeked over.
func BenchmarkLayerChangesFromTar(b *testing.B) {
	s, err := layers.Open(filepath.Join(b.TempDir(), "root"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	lower, top := benchLayers(b, s)
	b.ResetTimer()
	for b.Loop() {
		c, err := s.ChangeList(top, []v1.Hash{lower})
		if err != nil || len(c) != 20000+200 {
			b.Fatalf("%d changes, %v", len(c), err)
		}
	}
}

// BenchmarkInspectVsTar reads a 20,000-file layer's change list (against
// a 10,000-file layer below) and, in the same run, lists the same layer
// tar with `tar -tvf` (the physical floor: reading every header).
func BenchmarkInspectVsTar(b *testing.B) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		b.Skip("needs tar")
	}
	s, err := layers.Open(filepath.Join(b.TempDir(), "root"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	lower, top := benchLayers(b, s)
	blob := filepath.Join(s.Root(), "blobs", top.Algorithm, top.Hex)
	var ours, theirs time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.ChangeList(top, []v1.Hash{lower}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		t0 = time.Now()
		if out, err := exec.Command(tarBin, "-tvf", blob).Output(); err != nil || len(out) == 0 {
			b.Fatalf("tar -tvf: %v", err)
		}
		theirs += time.Since(t0)
	}
	b.ReportMetric(float64(ours)/float64(theirs), "x-tar-tvf")
}

// TestInspectUserAndWorkdirPerStep: each history entry's snapshot carries
// the USER and WORKDIR in effect then (a shell on an early layer runs as
// the build ran it), read from the history's USER and WORKDIR entries.
func TestInspectUserAndWorkdirPerStep(t *testing.T) {
	store := newStore(t)
	df := "FROM scratch\nCOPY a /a\nWORKDIR /srv\nWORKDIR app\nUSER nobody\nCOPY b /b\n"
	build(t, store, df, map[string]string{"a": "1", "b": "2"}, frontend.Options{Tags: []string{"peruser:1"}}).mustOK(t)
	_, evs := inspect(t, store, "peruser:1")
	var got []string
	for _, ev := range evs {
		if d, ok := ev.(event.StepDone); ok && d.Snapshot != nil {
			c := d.Snapshot.Config.Config
			got = append(got, c.User+"@"+c.WorkingDir)
		}
	}
	want := "@/ @/srv @/srv/app nobody@/srv/app nobody@/srv/app"
	if strings.Join(got, " ") != want {
		t.Errorf("user@workdir per entry: %q, want %q", strings.Join(got, " "), want)
	}
}

// benchLayers imports a 10,000-file layer and a 20,000-file one above it
// (half of its paths exist below), 1 kB per file.
func benchLayers(b *testing.B, s *layers.Store) (lower, top v1.Hash) {
	mk := func(n, from int) v1.Hash {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := bytes.Repeat([]byte("x"), 1024)
		for i := from; i < from+n; i++ {
			if i%100 == 0 {
				tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/", i/100), Typeflag: tar.TypeDir, Mode: 0o755})
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/f%d", i/100, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
			tw.Write(body)
		}
		tw.Close()
		m, err := s.ImportLayer(&buf, v1.Hash{})
		if err != nil {
			b.Fatal(err)
		}
		return m.DiffID
	}
	return mk(10000, 0), mk(20000, 5000)
}
