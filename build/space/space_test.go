package space_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/build/space"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/internal/testutil/rootfs"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
)

// TestMain lets the test binary act as the sandbox's container init.
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

// needSandbox skips when RUN cannot run here.
func needSandbox(t *testing.T) build.Runner {
	t.Helper()
	testutil.RequireRoot(t, "RUN uses the sandbox and layers keep owners")
	r := build.SandboxRunner()
	if r == nil {
		t.Skip("the sandbox is not supported here")
	}
	return r
}

// pattern is n bytes that are not all one value (so no two sizes share
// a content by accident), seeded by seed.
func pattern(n int, seed byte) string {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return string(b)
}

// buildImage builds df in a fresh context with files and returns the
// analysis of the result.
func buildImage(t *testing.T, store *layers.Store, runner build.Runner, df string, files map[string]string, opt frontend.Options) (*space.Analysis, *build.Result) {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"Dockerfile": df}
	for k, v := range files {
		all[k] = v
	}
	testutil.WriteTree(t, dir, all)
	opt.ContextDir = dir
	p, err := frontend.NewPlan(opt)
	if err != nil {
		t.Fatal(err)
	}
	var c space.Collector
	e := &build.Executor{Store: store, Plan: p, Opt: opt, Runner: runner, LogDir: t.TempDir(), Observe: c.Observe}
	res, err := e.Build(context.Background(), nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	a, err := c.Run(context.Background(), store, space.Options{Compress: true})
	if err != nil {
		t.Fatalf("analysis: %v", err)
	}
	return a, res
}

// wasteOf finds the waste of kind at path.
func wasteOf(a *space.Analysis, kind space.Kind, path string) (space.Waste, bool) {
	for _, w := range a.Wastes {
		if w.Kind == kind && w.Path == path {
			return w, true
		}
	}
	return space.Waste{}, false
}

const kindsDockerfile = `FROM scratch
ADD rootfs.tar /
RUN head -c 5000 /dev/zero > /del.bin && mkdir -p /d/sub && head -c 3000 /dev/zero > /d/a && head -c 2000 /dev/zero > /d/sub/b
RUN rm /del.bin && rm -rf /d
COPY app.bin /app/bin
RUN chmod 755 /app/bin
RUN head -c 4100 /dev/zero > /over
RUN cat /over.src > /over
RUN cp /app/bin /copy.bin
RUN head -c 6000 /dev/zero > /h1 && ln /h1 /h2
RUN rm /h1
RUN rm /h2
RUN mkdir /o && head -c 1500 /dev/zero > /o/old
RUN rm -rf /o && mkdir /o && echo hi > /o/new
`

// TestKindsOfWaste: each kind of waste on a built image, with its exact
// bytes, layer, line and the line that made it dead.
func TestKindsOfWaste(t *testing.T) {
	runner := needSandbox(t)
	store := testutil.TempStore(t, layers.Open)
	df := strings.Replace(kindsDockerfile, "RUN cat /over.src > /over", "COPY over.src /over.src\nRUN cat /over.src > /over && rm /over.src", 1)
	a, _ := buildImage(t, store, runner, df, map[string]string{
		"rootfs.tar": string(rootfs.BusyboxTar(t)), "app.bin": pattern(20000, 1), "over.src": pattern(4100, 2)}, frontend.Options{})
	type want struct {
		kind        space.Kind
		path        string
		bytes       int64
		files       int
		line, byLn  int
		fixContains string
	}
	// Lines: 3 makes /del.bin and /d, 4 deletes them, 5 copies /app/bin, 6
	// chmods it, 7 writes /over, 8 copies over.src, 9 rewrites /over and
	// deletes over.src, 10 copies /app/bin to /copy.bin, 11 makes /h1 and
	// its hardlink /h2, 12 and 13 delete them, 14 makes /o/old, 15 makes
	// /o again (an opaque directory).
	for _, w := range []want{
		{space.Deleted, "/del.bin", 5000, 1, 3, 4, "same RUN"},
		{space.Deleted, "/d", 5000, 2, 3, 4, "same RUN"},
		{space.Metadata, "/app/bin", 20000, 1, 5, 6, "--chmod"},
		{space.Overwritten, "/over", 4100, 1, 7, 9, "final content"},
		{space.Deleted, "/over.src", 4100, 1, 8, 9, "RUN --mount=type=bind"},
		{space.Duplicate, "/copy.bin", 20000, 1, 10, 10, "/app/bin"},
		{space.Deleted, "/h2", 6000, 1, 11, 13, "same RUN"},
		{space.Deleted, "/o", 1500, 1, 14, 15, "same RUN"},
	} {
		got, ok := wasteOf(a, w.kind, w.path)
		if !ok {
			t.Errorf("no %s waste at %s; wastes: %+v", w.kind, w.path, a.Wastes)
			continue
		}
		if got.Bytes != w.bytes || got.Files != w.files || got.Line != w.line || got.ByLine != w.byLn || !strings.Contains(got.Fix, w.fixContains) {
			t.Errorf("%s %s: %d bytes in %d files, line %d by line %d, fix %q; want %d in %d, line %d by %d, fix with %q",
				w.kind, w.path, got.Bytes, got.Files, got.Line, got.ByLine, got.Fix, w.bytes, w.files, w.line, w.byLn, w.fixContains)
		}
	}
	if _, ok := wasteOf(a, space.Deleted, "/h1"); ok {
		t.Error("deleting one name of a hardlinked file counted waste; its bytes are still live as /h2")
	}
	const wasted = 5000 + 5000 + 20000 + 4100 + 4100 + 20000 + 6000 + 1500
	if a.Image.Wasted != wasted || a.User.Wasted != wasted || a.BaseImg.Wasted != 0 {
		t.Errorf("wasted: image %d, user %d, base %d; want %d, %d, 0", a.Image.Wasted, a.User.Wasted, a.BaseImg.Wasted, wasted, wasted)
	}
	if len(a.Wastes) != 8 {
		t.Errorf("%d wastes, want 8: %+v", len(a.Wastes), a.Wastes)
	}
	// The ranking: the most bytes first.
	for i := 1; i < len(a.Wastes); i++ {
		if a.Wastes[i].Bytes > a.Wastes[i-1].Bytes {
			t.Errorf("wastes not ranked: %d before %d", a.Wastes[i-1].Bytes, a.Wastes[i].Bytes)
		}
	}
	// Per step: line 4's layer caused 10000 and ships none; line 3's ships
	// 10000 dead bytes; the efficiency is over the content.
	for _, l := range a.Layers {
		switch l.Line {
		case 3:
			if l.Unavoidable != 10000 || l.Caused != 0 {
				t.Errorf("line 3: wasted %d caused %d, want 10000 and 0", l.Unavoidable, l.Caused)
			}
		case 4:
			if l.Unavoidable != 0 || l.Caused != 10000 {
				t.Errorf("line 4: wasted %d caused %d, want 0 and 10000", l.Unavoidable, l.Caused)
			}
		}
		if l.Compressed == 0 {
			t.Errorf("line %d: no compressed size", l.Line)
		}
	}
	if eff := 1 - float64(wasted)/float64(a.Image.Content); a.Image.Efficiency != eff {
		t.Errorf("efficiency %v, want %v", a.Image.Efficiency, eff)
	}
	if a.Image.WastedCompressed <= 0 || a.Image.Compressed <= 0 {
		t.Errorf("compressed sizes missing: %+v", a.Image)
	}

	// The same image from its docker archive, read into another store
	// (change lists from the layer tars): the same numbers.
	t.Run("docker-archive", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "img.tar")
		if _, err := snapshot.SaveImage(store, a.ImageID, "docker-archive:"+file); err != nil {
			t.Fatal(err)
		}
		fresh := testutil.TempStore(t, layers.Open)
		b := inspect(t, fresh, "docker-archive:"+file)
		if b.ImageID != a.ImageID {
			t.Errorf("image %s, want %s", b.ImageID, a.ImageID)
		}
		if b.Image != a.Image || b.User != a.User || b.BaseImg != a.BaseImg {
			t.Errorf("totals differ:\nbuild   %+v %+v %+v\ninspect %+v %+v %+v", a.Image, a.User, a.BaseImg, b.Image, b.User, b.BaseImg)
		}
		if len(b.Wastes) != len(a.Wastes) {
			t.Fatalf("%d wastes, the build's analysis has %d", len(b.Wastes), len(a.Wastes))
		}
		for i := range a.Wastes {
			x, y := a.Wastes[i], b.Wastes[i]
			if x.Kind != y.Kind || x.Path != y.Path || x.Bytes != y.Bytes || x.Files != y.Files || x.Layer != y.Layer || x.ByLayer != y.ByLayer {
				t.Errorf("waste %d: build %+v, inspect %+v", i, x, y)
			}
			// A build names Dockerfile lines; an inspected image has no
			// Dockerfile, so its numbers are history entries and say so.
			if strings.Contains(x.Message, "history entry") || !strings.Contains(x.Message, "line ") {
				t.Errorf("waste %d of the build: %q, want Dockerfile lines", i, x.Message)
			}
			if strings.Contains(y.Message, "line ") || !strings.Contains(y.Message, "history entry ") {
				t.Errorf("waste %d of the inspected archive: %q, want history entries, not lines", i, y.Message)
			}
		}
		if a.LinesAre != "dockerfile" || b.LinesAre != "history" {
			t.Errorf("lines_are: build %q, inspect %q", a.LinesAre, b.LinesAre)
		}
	})
}

// inspect analyses an image as strata inspect does.
func inspect(t *testing.T, store *layers.Store, ref string) *space.Analysis {
	t.Helper()
	in, err := snapshot.Inspect(context.Background(), store, ref)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan event.Event, 64)
	var c space.Collector
	errc := make(chan error, 1)
	go func() { errc <- in.Stream(context.Background(), events) }()
	for ev := range events {
		c.Observe(ev)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	a, err := c.Run(context.Background(), store, space.Options{Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestBaseAndUser: a file of the base image deleted by the user's step is
// the base image's waste; the user's own deleted file is the user's.
func TestBaseAndUser(t *testing.T) {
	runner := needSandbox(t)
	store := testutil.TempStore(t, layers.Open)
	buildImage(t, store, runner, "FROM scratch\nADD rootfs.tar /\nRUN head -c 8000 /dev/zero > /base.bin\n",
		map[string]string{"rootfs.tar": string(rootfs.BusyboxTar(t))}, frontend.Options{Tags: []string{"spacebase:1"}})
	a, _ := buildImage(t, store, runner, "FROM spacebase:1\nRUN head -c 3000 /dev/zero > /u.bin\nRUN rm /base.bin /u.bin\n", nil, frontend.Options{})
	if a.BaseImg.Wasted != 8000 || a.User.Wasted != 3000 || a.Image.Wasted != 11000 {
		t.Errorf("wasted: base %d user %d image %d; want 8000, 3000, 11000", a.BaseImg.Wasted, a.User.Wasted, a.Image.Wasted)
	}
	if a.BaseImg.Layers != 2 || a.User.Layers != 2 {
		t.Errorf("layers: base %d, user %d; want 2 and 2", a.BaseImg.Layers, a.User.Layers)
	}
	w, ok := wasteOf(a, space.Deleted, "/base.bin")
	if !ok || !w.Base || w.ByLine != 3 || !strings.Contains(w.Fix, "base image") || !strings.Contains(w.Message, "line 3 deletes /base.bin") {
		t.Errorf("base waste %+v", w)
	}
	if got := a.BaseImg.Efficiency; got != 1-8000/float64(a.BaseImg.Content) {
		t.Errorf("base efficiency %v", got)
	}
	if a.User.Content != 3000 || a.User.Efficiency != 0 {
		t.Errorf("user content %d efficiency %v; want 3000 and 0", a.User.Content, a.User.Efficiency)
	}
}

// TestCache: the analysis is kept in the store and read back the same.
func TestCache(t *testing.T) {
	runner := needSandbox(t)
	store := testutil.TempStore(t, layers.Open)
	a, _ := buildImage(t, store, runner, "FROM scratch\nADD rootfs.tar /\nRUN head -c 1234 /dev/zero > /x\nRUN rm /x\n",
		map[string]string{"rootfs.tar": string(rootfs.BusyboxTar(t))}, frontend.Options{})
	files, _ := filepath.Glob(filepath.Join(store.Root(), "space", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cached analyses %v, want one", files)
	}
	if a.Image.Wasted != 1234 {
		t.Errorf("wasted %d, want 1234", a.Image.Wasted)
	}
	ids := make([]space.Layer, len(a.Layers))
	for i, l := range a.Layers {
		ids[i] = l.Layer
	}
	b, err := space.Run(context.Background(), store, a.ImageID, ids, space.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(b.Image, b.Wastes) != fmt.Sprint(a.Image, a.Wastes) {
		t.Errorf("cached analysis differs:\n%+v\n%+v", a, b)
	}
	// It is read, not made again: an edit of the kept file shows.
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[0], []byte(strings.ReplaceAll(string(raw), `"path":"/x"`, `"path":"/kept"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := space.Run(context.Background(), store, a.ImageID, ids, space.Options{})
	if err != nil || len(c.Wastes) != 1 || c.Wastes[0].Path != "/kept" {
		t.Errorf("second run did not read the kept analysis: %v %+v", err, c)
	}
}
