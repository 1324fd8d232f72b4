package build

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

// Differences found by building the same Dockerfiles with docker build
// (BuildKit) and strata, and comparing configs and layers; each test pins
// BuildKit's behaviour (moby/buildkit v0.34 dockerfile2llb and solver).

// importedArchive writes a `docker save` tarball of a one-layer image
// whose config has only env: what `docker import rootfs.tar` makes.
func importedArchive(t testing.TB, env []string) string {
	t.Helper()
	layer := makeTar(t, []tarEntry{{name: "etc/", typ: tar.TypeDir, mode: 0o755}, {name: "etc/hostname", body: "x\n"}})
	diffID := sha256Hex(layer)
	envJSON, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"architecture":%q,"os":"linux","config":{"Env":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}`, runtime.GOARCH, envJSON, diffID)
	cfgName := sha256Hex([]byte(cfg)) + ".json"
	manifest := fmt.Sprintf(`[{"Config":%q,"RepoTags":["imported:1"],"Layers":["%s/layer.tar"]}]`, cfgName, diffID)
	out := makeTar(t, []tarEntry{
		{name: "manifest.json", body: manifest},
		{name: cfgName, body: cfg},
		{name: diffID + "/", typ: tar.TypeDir, mode: 0o755},
		{name: diffID + "/layer.tar", body: string(layer)},
	})
	file := filepath.Join(t.TempDir(), "imported.tar")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestBaseWithoutPath: BuildKit "makes sure that PATH is always set": a
// base image whose config has no PATH (docker import) gets the default
// appended, in the image config, for expansion and for RUN. docker build
// of `FROM imported` gave Env [PATH=...]; strata gave no Env at all.
func TestBaseWithoutPath(t *testing.T) {
	def := "PATH=" + DefaultPathEnv
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"no env", nil, []string{def, "P2=" + DefaultPathEnv}},
		{"env without PATH", []string{"A=1"}, []string{"A=1", def, "P2=" + DefaultPathEnv}},
		{"own PATH kept", []string{"PATH=/own"}, []string{"PATH=/own", "P2=/own"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore(t)
			ctxDir := t.TempDir()
			df := "FROM docker-archive:" + importedArchive(t, tc.env) + "\nENV P2=$PATH\nRUN true\n"
			writeTree(t, ctxDir, map[string]string{"Dockerfile": df})
			fr := &fakeRunner{}
			r := buildIn(t, store, frontend.Options{ContextDir: ctxDir}, fr).mustOK(t)
			if got := r.cfg().Config.Env; !slices.Equal(got, tc.want) {
				t.Errorf("Env = %q, want %q", got, tc.want)
			}
			if len(fr.reqs) != 1 {
				t.Fatalf("%d RUN requests, want 1", len(fr.reqs))
			}
			path := ""
			for _, e := range fr.reqs[0].Env {
				if v, ok := strings.CutPrefix(e, "PATH="); ok {
					path = v
				}
			}
			if wantPath := strings.TrimPrefix(tc.want[len(tc.want)-1], "P2="); path != wantPath {
				t.Errorf("RUN PATH = %q, want %q", path, wantPath)
			}
		})
	}
}

// TestCopyKeepsHardlinks: files hard-linked to each other inside a copied
// directory stay one inode in the layer (BuildKit's copy keeps an inode
// map per source; docker build wrote "all/hard_a" as a tar hardlink to
// "all/a.txt"); separate sources are separate copies, as in Docker.
func TestCopyKeepsHardlinks(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY d /d\nCOPY d/a d/b /sep/\n",
		"d/a":        "same",
		"d/c":        "other",
	})
	if err := os.Link(filepath.Join(ctxDir, "d/a"), filepath.Join(ctxDir, "d/b")); err != nil {
		t.Fatal(err)
	}
	r := buildIn(t, store, frontend.Options{ContextDir: ctxDir}, nil).mustOK(t)
	a, b := r.change(t, 1, "/d/a"), r.change(t, 1, "/d/b")
	if a.Type == layers.TypeHardlink {
		a, b = b, a
	}
	if a.Type != layers.TypeRegular || b.Type != layers.TypeHardlink || b.Linkname != a.Path {
		t.Errorf("/d/a %v, /d/b %v -> %q: want one regular file and a hardlink to it", a.Type, b.Type, b.Linkname)
	}
	if c := r.change(t, 1, "/d/c"); c.Type != layers.TypeRegular {
		t.Errorf("/d/c is %v, want a regular file", c.Type)
	}
	for _, p := range []string{"/sep/a", "/sep/b"} {
		if c := r.change(t, 2, p); c.Type != layers.TypeRegular || c.Size != 4 {
			t.Errorf("%s is %v (%d bytes), want a 4-byte regular file", p, c.Type, c.Size)
		}
	}
}

// TestWorkdirOwnerUnderUser: BuildKit makes WORKDIR's directories with
// llb.WithUser(USER), i.e. --chown rules: a bare uid is also the gid (not
// the passwd gid RUN would use), a name takes passwd uid and gid, an
// unknown name is uid 0 (docker build: USER 777 gave 777:777 where strata
// gave 777:0; USER nosuch built where strata failed).
func TestWorkdirOwnerUnderUser(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	ctx := map[string]string{
		"rootfs.tar": string(busyboxRootfs(t)),
		"passwd":     "root:x:0:0:root:/root:/bin/sh\nbob:x:1001:50::/home/bob:/bin/sh\n",
	}
	df := "FROM scratch\nADD rootfs.tar /\nCOPY passwd /etc/passwd\n" +
		"USER 1001\nWORKDIR /w1\n" + // steps 3, 4
		"USER bob\nWORKDIR /w2\n" + // 5, 6
		"USER 1001:7\nWORKDIR /w3\n" + // 7, 8
		"USER nosuch\nWORKDIR /w4\n" // 9, 10
	r := build(t, store, df, ctx, frontend.Options{}).mustOK(t)
	for _, tc := range []struct {
		step     int
		path     string
		uid, gid int
	}{{4, "/w1", 1001, 1001}, {6, "/w2", 1001, 50}, {8, "/w3", 1001, 7}, {10, "/w4", 0, 0}} {
		if c := r.change(t, tc.step, tc.path); c.UID != tc.uid || c.GID != tc.gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", tc.path, c.UID, c.GID, tc.uid, tc.gid)
		}
	}
	found := false
	for _, ev := range r.events {
		if w, ok := ev.(event.Warning); ok && strings.Contains(w.Message, "nosuch") {
			found = w.Line == 11
		}
	}
	if !found {
		t.Errorf("no warning on line 11 about user nosuch")
	}
}

// TestDirOverFileMessage: making a directory where the image has a file
// names the path in words (it printed the file type as "(----------)").
func TestDirOverFileMessage(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	r := build(t, store, "FROM scratch\nCOPY f /f\nWORKDIR /f/sub\n", map[string]string{"f": "x"}, frontend.Options{})
	if r.err == nil || frontend.ErrorLine(r.err) != 3 || !strings.Contains(r.err.Error(), "/f") ||
		!strings.Contains(r.err.Error(), "not a directory") || strings.Contains(r.err.Error(), "---") {
		t.Errorf("err = %v, want line 3 saying /f is a file, not a directory", r.err)
	}
}

// TestAddArchiveKeepsDestDir: ADD of an archive whose "./" entry has its
// own owner and mode leaves the destination directory as it was (Docker's
// untar skips "." when the destination exists; docker build gave /sub
// 0:0 0755 where strata gave the archive's 5:6).
func TestAddArchiveKeepsDestDir(t *testing.T) {
	needRoot(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 5, Gid: 6},
		{Name: "./f", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 5, Gid: 6, Size: 1},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	r := build(t, store, "FROM scratch\nADD a.tar /sub/\n", map[string]string{"a.tar": buf.String()}, frontend.Options{}).mustOK(t)
	if d := r.change(t, 1, "/sub"); d.UID != 0 || d.GID != 0 || d.Mode.Perm() != 0o755 {
		t.Errorf("/sub %v %d:%d, want 0755 0:0 (the destination's own)", d.Mode.Perm(), d.UID, d.GID)
	}
	if f := r.change(t, 1, "/sub/f"); f.UID != 5 || f.GID != 6 || f.Mode.Perm() != 0o600 {
		t.Errorf("/sub/f %v %d:%d, want 0600 5:6 (the archive's)", f.Mode.Perm(), f.UID, f.GID)
	}
}

// TestWorkdirKeptAsWritten: BuildKit's NormalizeWorkdir keeps an absolute
// WORKDIR as written (docker build: WorkingDir "/srv/", history "WORKDIR
// /srv/"; strata cleaned it to "/srv") and joins relative ones (cleaned).
func TestWorkdirKeptAsWritten(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	r := build(t, store, "FROM scratch\nWORKDIR /srv/\nWORKDIR /srv/\nWORKDIR ./a/../b/\n", nil, frontend.Options{}).mustOK(t)
	if wd := r.cfg().Config.WorkingDir; wd != "/srv/b" {
		t.Errorf("WorkingDir = %q, want /srv/b", wd)
	}
	h := histories(r.cfg())
	want := []hist{{"WORKDIR /srv/", false}, {"WORKDIR /srv/", false}, {"WORKDIR /srv/b", false}}
	if !slices.Equal(h, want) {
		t.Errorf("history %v, want %v", h, want)
	}
	one := build(t, newStore(t), "FROM scratch\nWORKDIR /srv/\n", nil, frontend.Options{}).mustOK(t)
	if wd := one.cfg().Config.WorkingDir; wd != "/srv/" {
		t.Errorf("WorkingDir = %q, want /srv/", wd)
	}
	if d := one.change(t, 1, "/srv"); d.Type != layers.TypeDir {
		t.Errorf("/srv is %v, want a directory", d.Type)
	}
}

// TestCopyWildcardMatchingNothing: a wildcard that matches nothing is no
// error (BuildKit's AllowEmptyWildcard) and copies nothing: no destination
// directory either (docker build: an empty layer; strata made /x). The
// COPY still has its layer, an empty one, as BuildKit's COPY always does.
func TestCopyWildcardMatchingNothing(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	r := build(t, store, "FROM scratch\nCOPY *.nomatch /x/\nCOPY *.nomatch a /y/\n", map[string]string{"a": "1"}, frontend.Options{}).mustOK(t)
	h := histories(r.cfg())
	if len(h) != 2 || h[0].empty || h[1].empty {
		t.Errorf("history %v: want both COPYs with a layer", h)
	}
	if ids := r.cfg().RootFS.DiffIDs; len(ids) != 2 || ids[0].String() != emptyLayerDiffID {
		t.Errorf("layers %v: want the first COPY's to be the empty layer %s", ids, emptyLayerDiffID)
	}
	if got := r.changedPaths(t, 1); len(got) != 0 {
		t.Errorf("first COPY changed %v, want nothing", got)
	}
	if got := r.changedPaths(t, 2); !slices.Equal(got, []string{"/y", "/y/a"}) {
		t.Errorf("second COPY changed %v, want [/y /y/a]", got)
	}
}
