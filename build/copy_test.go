package build

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// entry describes what a path of the built image must be.
type entry struct {
	typ  layers.FileType
	body string // regular files: content; symlinks: target
}

// checkLayer checks paths in the top layer's unpacked fs and that no
// other regular file or symlink was added by the step (dirs are allowed:
// parents are made or copied up).
func checkStep(t *testing.T, r *buildRun, step int, want map[string]entry) {
	t.Helper()
	got := map[string]layers.Change{}
	for _, c := range snapChanges(t, r.store, r.stepDone(t, step).Snapshot) {
		got[c.Path] = c
	}
	for p, w := range want {
		c, ok := got[p]
		if !ok {
			t.Errorf("%s missing; the step changed %v", p, r.changedPaths(t, step))
			continue
		}
		if c.Type != w.typ {
			t.Errorf("%s is a %v, want a %v", p, c.Type, w.typ)
			continue
		}
		host := filepath.Join(r.stepLayer(t, step), p)
		switch w.typ {
		case layers.TypeRegular:
			b, err := os.ReadFile(host)
			if err != nil {
				t.Error(err)
			} else if string(b) != w.body {
				t.Errorf("%s = %q, want %q", p, b, w.body)
			}
		case layers.TypeSymlink:
			if c.Linkname != w.body {
				t.Errorf("%s -> %q, want -> %q", p, c.Linkname, w.body)
			}
		}
	}
	for p, c := range got {
		if _, ok := want[p]; !ok && c.Type != layers.TypeDir {
			t.Errorf("unexpected %v %s", c.Type, p)
		}
	}
}

var (
	fileE = func(body string) entry { return entry{layers.TypeRegular, body} }
	dirE  = entry{typ: layers.TypeDir}
	linkE = func(target string) entry { return entry{layers.TypeSymlink, target} }
)

// TestCopyDestination checks Docker's documented COPY rules
// (https://docs.docker.com/reference/dockerfile/#copy), one per case.
func TestCopyDestination(t *testing.T) {
	store := newStore(t)
	ctx := map[string]string{
		"a":         "A",
		"b":         "B",
		"x.txt":     "X",
		"y.txt":     "Y",
		"z.md":      "Z",
		"d/f":       "F",
		"d/sub/g":   "G",
		"d/link":    "->f",
		"d/empty/":  "",
		"toplink":   "->a",
		"deep/1/2/": "",
	}
	cases := []struct {
		rule string
		df   string // after FROM scratch
		want map[string]entry
	}{
		{"dest without trailing slash is a file: contents of src written at dest",
			"COPY a /dest", map[string]entry{"/dest": fileE("A")}},
		{"dest with trailing slash is a dir: src copied into it as dest/name",
			"COPY a /dest/", map[string]entry{"/dest": dirE, "/dest/a": fileE("A")}},
		{"dest that exists as a directory takes the file into it, slash or not",
			"WORKDIR /exist\nWORKDIR /\nCOPY a /exist", map[string]entry{"/exist": dirE, "/exist/a": fileE("A")}},
		{"src directory: its contents are copied, not the directory itself",
			"COPY d /x/", map[string]entry{"/x": dirE, "/x/f": fileE("F"), "/x/sub": dirE, "/x/sub/g": fileE("G"), "/x/link": linkE("f"), "/x/empty": dirE}},
		{"src directory to dest without slash: contents land in dest",
			"COPY d /x", map[string]entry{"/x/f": fileE("F"), "/x/sub/g": fileE("G"), "/x/link": linkE("f")}},
		{"wildcards match with Go filepath.Match rules",
			"COPY *.txt /w/", map[string]entry{"/w/x.txt": fileE("X"), "/w/y.txt": fileE("Y")}},
		{"a wildcard matching nothing is no error (BuildKit: AllowEmptyWildcard); it copies nothing, see TestCopyWildcardMatchingNothing",
			"COPY nomatch* /w/", map[string]entry{}},
		{"a literal name after a wildcard matches only where it exists",
			"COPY */f /w/", map[string]entry{"/w/f": fileE("F")}},
		{"wildcard ? and classes",
			"COPY [xz].??? ?.md /w/", map[string]entry{"/w/x.txt": fileE("X"), "/w/z.md": fileE("Z")}},
		{"multiple sources with a dir dest ending in /",
			"COPY a b /m/", map[string]entry{"/m/a": fileE("A"), "/m/b": fileE("B")}},
		{"relative dest is relative to WORKDIR",
			"WORKDIR /app\nCOPY a rel/", map[string]entry{"/app/rel/a": fileE("A")}},
		{"dest . is WORKDIR",
			"WORKDIR /app\nCOPY a .", map[string]entry{"/app/a": fileE("A")}},
		{"relative file dest under WORKDIR",
			"WORKDIR /app\nCOPY a name", map[string]entry{"/app/name": fileE("A")}},
		{"missing parents of dest are created",
			"COPY a /p/q/r/file", map[string]entry{"/p": dirE, "/p/q": dirE, "/p/q/r": dirE, "/p/q/r/file": fileE("A")}},
		{"symlinks inside a copied dir are copied as symlinks",
			"COPY d/link /s/keep/\nCOPY d /s/", map[string]entry{"/s/link": linkE("f"), "/s/f": fileE("F"), "/s/sub/g": fileE("G")}},
		{"a symlink named as source is followed (copied as its target's content)",
			"COPY toplink /t", map[string]entry{"/t": fileE("A")}},
		{"empty nested directories are copied",
			"COPY deep /e/", map[string]entry{"/e/1": dirE, "/e/1/2": dirE}},
		{"source with ./ and trailing slash is normalised",
			"COPY ./d/sub/ /n/", map[string]entry{"/n/g": fileE("G")}},
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			r := build(t, store, "FROM scratch\n"+tc.df+"\n", ctx, frontend.Options{}).mustOK(t)
			checkStep(t, r, r.lastStep(), tc.want)
		})
	}
}

// TestCopyModesAndTimes: COPY from the context gives root ownership and
// keeps mode bits and mtimes of the source files.
func TestCopyModesAndTimes(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{"Dockerfile": "FROM scratch\nCOPY . /c/\n", "run.sh": "#!/bin/sh\n", "d/f": "f"})
	os.Chmod(filepath.Join(ctxDir, "run.sh"), 0o751)
	os.Chown(filepath.Join(ctxDir, "run.sh"), 1234, 1234)
	mt := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(ctxDir, "d/f"), mt, mt)
	r := buildIn(t, store, frontend.Options{ContextDir: ctxDir}, nil).mustOK(t)
	c := r.change(t, 1, "/c/run.sh")
	if c.Mode.Perm() != 0o751 || c.UID != 0 || c.GID != 0 {
		t.Errorf("/c/run.sh mode %v owner %d:%d, want 0751 0:0", c.Mode, c.UID, c.GID)
	}
	if f := r.change(t, 1, "/c/d/f"); !f.ModTime.Equal(mt) {
		t.Errorf("/c/d/f mtime %v, want %v", f.ModTime, mt)
	}
}

// TestCopyChown: BuildKit's rules for --chown (llb.WithUser, then the
// solver's readUser; checked against docker build): a number (or "root")
// is also the gid; a name takes uid and primary gid from the image's
// /etc/passwd; a group replaces the gid; names not found give uid 0 / keep
// the gid, with a warning instead of Docker's silence.
func TestCopyChown(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	ctx := map[string]string{
		"rootfs.tar": string(busyboxRootfs(t)),
		// bob's primary group (50) differs from his uid on purpose
		"passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nbob:x:1001:50::/home/bob:/bin/sh\n",
		"a":      "A",
		"d/f":    "F",
	}
	cases := []struct {
		name     string
		flag     string
		uid, gid int
		warn     string // a Warning event naming this, "" for none
	}{
		{"user name only", "app", 1000, 1000, ""},
		{"user name only, primary group differs: passwd gid", "bob", 1001, 50, ""},
		{"user and group names", "app:staff", 1000, 50, ""},
		{"numeric uid only: gid = uid", "1234", 1234, 1234, ""},
		{"numeric uid:gid", "1234:5", 1234, 5, ""},
		{"name:numeric gid", "app:7", 1000, 7, ""},
		{"numeric uid:group name", "7:staff", 7, 50, ""},
		{"root is uid 0", "root:staff", 0, 50, ""},
		{"group only", ":7", 0, 7, ""},
		{"unknown user: uid 0", "nosuch", 0, 0, "nosuch"},
		{"unknown group: user's gid kept", "bob:nogrp", 1001, 50, "nogrp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			df := fmt.Sprintf("FROM scratch\nADD rootfs.tar /\nCOPY passwd /etc/passwd\nCOPY --chown=%s a d /o/\n", tc.flag)
			r := build(t, store, df, ctx, frontend.Options{}).mustOK(t)
			for _, p := range []string{"/o", "/o/a", "/o/f"} {
				c := r.change(t, 3, p)
				if c.UID != tc.uid || c.GID != tc.gid {
					t.Errorf("%s owned by %d:%d, want %d:%d", p, c.UID, c.GID, tc.uid, tc.gid)
				}
			}
			var warned []string
			for _, ev := range r.events {
				if w, ok := ev.(event.Warning); ok && strings.Contains(w.Message, "--chown") {
					if w.Line != 4 {
						t.Errorf("warning %q on line %d, want 4", w.Message, w.Line)
					}
					warned = append(warned, w.Message)
				}
			}
			switch {
			case tc.warn == "" && len(warned) > 0:
				t.Errorf("unexpected warnings %q", warned)
			case tc.warn != "" && (len(warned) != 1 || !strings.Contains(warned[0], tc.warn)):
				t.Errorf("warnings %q, want one naming %s", warned, tc.warn)
			}
		})
	}
	t.Run("--link with a name is refused", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nADD rootfs.tar /\nCOPY --link --chown=app a /a\n", ctx, frontend.Options{})
		if r.err == nil || frontend.ErrorLine(r.err) != 3 || !strings.Contains(r.err.Error(), "numeric") {
			t.Errorf("err = %v, want line 3 asking for a numeric uid", r.err)
		}
	})
}

func TestCopyFlags(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	ctx := map[string]string{
		"a": "A", "b.md": "B", "sub/c.md": "C", "sub/d.txt": "D",
		"x/a": "xa", "x/sub/f": "xf", "y/b": "yb",
	}
	t.Run("--chmod sets the mode of copied files", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nCOPY --chmod=640 a sub /m/\n", ctx, frontend.Options{}).mustOK(t)
		for _, p := range []string{"/m/a", "/m/c.md", "/m/d.txt"} {
			if c := r.change(t, 1, p); c.Mode.Perm() != 0o640 {
				t.Errorf("%s mode %v, want 0640", p, c.Mode)
			}
		}
	})
	t.Run("--chmod symbolic applies to each entry's own mode", func(t *testing.T) {
		// Context files are 0644: u+x,go-r makes 0700; a+X adds x only
		// to directories (and already executable files).
		r := build(t, store, "FROM scratch\nCOPY --chmod=u+x,go-r a /sym\nCOPY --chmod=a+X x /X/\n", ctx, frontend.Options{}).mustOK(t)
		if c := r.change(t, 1, "/sym"); c.Mode.Perm() != 0o700 {
			t.Errorf("/sym mode %v, want 0700", c.Mode)
		}
		if c := r.change(t, 2, "/X/a"); c.Mode.Perm() != 0o644 {
			t.Errorf("/X/a mode %v, want 0644 (X adds nothing to a plain file)", c.Mode)
		}
		if c := r.change(t, 2, "/X/sub"); !c.Mode.IsDir() || c.Mode.Perm() != 0o755 {
			t.Errorf("/X/sub mode %v, want a 0755 directory", c.Mode)
		}
	})
	t.Run("--chmod with setuid", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nCOPY --chmod=4755 a /s\n", ctx, frontend.Options{}).mustOK(t)
		if c := r.change(t, 1, "/s"); c.Mode&fs.ModeSetuid == 0 || c.Mode.Perm() != 0o755 {
			t.Errorf("/s mode %v, want setuid 0755", c.Mode)
		}
	})
	t.Run("--exclude leaves matching files out", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nCOPY --exclude=*.md --exclude=sub/*.md . /e/\n", ctx, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{
			"/e/a": fileE("A"), "/e/sub/d.txt": fileE("D"), "/e/x/a": fileE("xa"), "/e/x/sub/f": fileE("xf"), "/e/y/b": fileE("yb"),
			"/e/Dockerfile": fileE("FROM scratch\nCOPY --exclude=*.md --exclude=sub/*.md . /e/\n"),
		})
	})
	t.Run("--parents keeps the source path", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nCOPY --parents x/a y/b /p/\n", ctx, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{"/p/x/a": fileE("xa"), "/p/y/b": fileE("yb")})
	})
	t.Run("--parents with a /./ pivot", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nCOPY --parents x/./sub/f /q/\n", ctx, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{"/q/sub/f": fileE("xf")})
	})
	t.Run("--parents with a wildcard", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nCOPY --parents */a /w/\n", ctx, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{"/w/x/a": fileE("xa")})
	})
	t.Run("--link makes a layer independent of the image", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nWORKDIR /l\nCOPY --link a /l/\n", ctx, frontend.Options{}).mustOK(t)
		checkStep(t, r, 2, map[string]entry{"/l/a": fileE("A")})
		h := histories(r.cfg())
		if last := h[len(h)-1]; last.createdBy != "COPY a /l/ # buildkit" {
			t.Errorf("history %q, want COPY a /l/ # buildkit", last.createdBy)
		}
		// The --link layer holds /l itself (a new dir), not a copy-up.
		if c := r.change(t, 2, "/l"); c.Kind != layers.Added {
			t.Errorf("/l is %v in the --link layer, want added", c.Kind)
		}
	})
	t.Run("--link with numeric --chown", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nCOPY --link --chown=5:6 a /a\n", ctx, frontend.Options{}).mustOK(t)
		if c := r.change(t, 1, "/a"); c.UID != 5 || c.GID != 6 {
			t.Errorf("/a owned %d:%d, want 5:6", c.UID, c.GID)
		}
	})
}

// TestCopyFromStage reads another stage's files, keeping their owners.
func TestCopyFromStage(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	df := `FROM scratch AS one
COPY --chown=7:8 a /src/a
COPY d /src/d/
FROM scratch
COPY --from=one /src/a /got/
COPY --from=0 /src/d /dd/
COPY --from=one /src/d/f* /w/
`
	r := build(t, store, df, map[string]string{"a": "A", "d/f1": "1", "d/f2": "2", "d/g": "g"}, frontend.Options{}).mustOK(t)
	if c := r.change(t, 4, "/got/a"); c.UID != 7 || c.GID != 8 {
		t.Errorf("/got/a owned %d:%d, want 7:8 (kept from the stage)", c.UID, c.GID)
	}
	checkStep(t, r, 5, map[string]entry{"/dd/f1": fileE("1"), "/dd/f2": fileE("2"), "/dd/g": fileE("g")})
	checkStep(t, r, 6, map[string]entry{"/w/f1": fileE("1"), "/w/f2": fileE("2")})
}

func gzipBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func xzBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zstdBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func bzip2Bytes(t *testing.T, b []byte) []byte {
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("bzip2 not installed (apt-get install bzip2)")
	}
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAddArchive: ADD extracts a local tar, plain or compressed (gzip,
// bzip2, xz, zstd), into the destination; other files are copied.
func TestAddArchive(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	plain := makeTar(t, []tarEntry{
		{name: "top/", typ: '5', mode: 0o755},
		{name: "top/f", body: "in tar"},
		{name: "top/l", typ: '2', link: "f"},
	})
	want := map[string]entry{"/x/top/f": fileE("in tar"), "/x/top/l": linkE("f")}
	cases := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"a.tar", func(t *testing.T) []byte { return plain }},
		{"a.tar.gz", func(t *testing.T) []byte { return gzipBytes(t, plain) }},
		{"a.tar.xz", func(t *testing.T) []byte { return xzBytes(t, plain) }},
		{"a.tar.zst", func(t *testing.T) []byte { return zstdBytes(t, plain) }},
		{"a.tar.bz2", func(t *testing.T) []byte { return bzip2Bytes(t, plain) }},
		{"named .dat, sniffed by content", func(t *testing.T) []byte { return gzipBytes(t, plain) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "_")
			r := build(t, store, "FROM scratch\nADD "+name+" /x/\n", map[string]string{name: string(tc.data(t))}, frontend.Options{}).mustOK(t)
			checkStep(t, r, 1, want)
		})
	}
	t.Run("ADD to dest without slash extracts into it", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nADD a.tar.gz /x\n", map[string]string{"a.tar.gz": string(gzipBytes(t, plain))}, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, want)
	})
	t.Run("not an archive: copied as a file", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nADD fake.tar.gz /n/\n", map[string]string{"fake.tar.gz": "just text"}, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{"/n/fake.tar.gz": fileE("just text")})
	})
	t.Run("COPY never extracts", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nCOPY a.tar /n/\n", map[string]string{"a.tar": string(plain)}, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{"/n/a.tar": fileE(string(plain))})
	})
	t.Run("ADD --unpack=false keeps the archive", func(t *testing.T) {
		r := build(t, store, "# syntax=docker/dockerfile:1-labs\nFROM scratch\nADD --unpack=false a.tar /n/\n", map[string]string{"a.tar": string(plain)}, frontend.Options{})
		if r.err != nil {
			t.Skipf("--unpack not accepted by this parser: %v", r.err)
		}
		checkStep(t, r, 1, map[string]entry{"/n/a.tar": fileE(string(plain))})
	})
	t.Run("archive with ../ entry is refused", func(t *testing.T) {
		evil := makeTar(t, []tarEntry{{name: "../escape", body: "x"}})
		before := snapshotStore(t, store)
		r := build(t, store, "FROM scratch\nADD e.tar /x/\n", map[string]string{"e.tar": string(evil)}, frontend.Options{})
		if r.err == nil || frontend.ErrorLine(r.err) != 2 || !strings.Contains(r.err.Error(), "escape") {
			t.Errorf("err = %v, want Dockerfile:2 naming the entry", r.err)
		}
		if after := snapshotStore(t, store); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("store changed")
		}
	})
}

// TestAddURL: ADD fetches http(s) URLs; --checksum verifies the download.
func TestAddURL(t *testing.T) {
	body := "downloaded body\n"
	lm := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file.txt":
			w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
			fmt.Fprint(w, body)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	store := newStore(t)
	u := srv.URL + "/file.txt"
	right := "sha256:" + sha256Hex([]byte(body))
	wrong := "sha256:" + sha256Hex([]byte("other"))

	t.Run("into a dir, named from the URL, mode 0600", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nADD "+u+" /u/\n", nil, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{"/u/file.txt": fileE(body)})
		c := r.change(t, 1, "/u/file.txt")
		if c.Mode.Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", c.Mode)
		}
		if !c.ModTime.Equal(lm) {
			t.Errorf("mtime %v, want Last-Modified %v", c.ModTime, lm)
		}
	})
	t.Run("to a file name", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nADD "+u+" /named\n", nil, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{"/named": fileE(body)})
	})
	t.Run("right checksum", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nADD --checksum="+right+" "+u+" /c/\n", nil, frontend.Options{}).mustOK(t)
		checkStep(t, r, 1, map[string]entry{"/c/file.txt": fileE(body)})
	})
	t.Run("wrong checksum", func(t *testing.T) {
		before := snapshotStore(t, store)
		r := build(t, store, "FROM scratch\nENV A=1\nADD --checksum="+wrong+" "+u+" /c/\n", nil, frontend.Options{})
		if r.err == nil || frontend.ErrorLine(r.err) != 3 || !strings.Contains(r.err.Error(), "checksum mismatch") ||
			!strings.Contains(r.err.Error(), right) {
			t.Errorf("err = %v, want Dockerfile:3 checksum mismatch naming the real %s", r.err, right)
		}
		if after := snapshotStore(t, store); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("store changed")
		}
	})
	t.Run("404", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nADD "+srv.URL+"/nope /c/\n", nil, frontend.Options{})
		if r.err == nil || frontend.ErrorLine(r.err) != 2 || !strings.Contains(r.err.Error(), "404") {
			t.Errorf("err = %v, want Dockerfile:2 with 404", r.err)
		}
	})
	t.Run("--checksum on a local file", func(t *testing.T) {
		r := build(t, store, "FROM scratch\nADD --checksum="+right+" a /c/\n", map[string]string{"a": "x"}, frontend.Options{})
		if r.err == nil || frontend.ErrorLine(r.err) != 2 || !strings.Contains(r.err.Error(), "URL") {
			t.Errorf("err = %v, want Dockerfile:2 saying --checksum needs a URL", r.err)
		}
	})
}

// TestCopyHeredoc: COPY <<EOF writes the here-document as a file; an
// unquoted delimiter expands variables (quotes in the body stay), a quoted
// one does not.
func TestCopyHeredoc(t *testing.T) {
	store := newStore(t)
	cases := []struct {
		name, df string
		want     map[string]entry
	}{
		{"expanded", "FROM scratch\nENV A=1\nCOPY <<EOF /h.txt\nsay \"hi $A\" 'x'\nEOF\n",
			map[string]entry{"/h.txt": fileE("say \"hi 1\" 'x'\n")}},
		{"quoted delimiter: literal", "FROM scratch\nENV A=1\nCOPY <<\"EOF\" /h.txt\nsay $A\nEOF\n",
			map[string]entry{"/h.txt": fileE("say $A\n")}},
		{"two documents into a dir", "FROM scratch\nCOPY <<one <<two /d/\n1\none\n2\ntwo\n",
			map[string]entry{"/d/one": fileE("1\n"), "/d/two": fileE("2\n")}},
		{"relative to WORKDIR", "FROM scratch\nWORKDIR /w\nCOPY <<EOF f\nx\nEOF\n",
			map[string]entry{"/w/f": fileE("x\n")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, store, tc.df, nil, frontend.Options{}).mustOK(t)
			checkStep(t, r, r.lastStep(), tc.want)
			if c := r.change(t, r.lastStep(), firstKey(tc.want)); c.Mode.Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", c.Mode)
			}
		})
	}
}

func firstKey(m map[string]entry) string {
	for k, v := range m {
		if v.typ == layers.TypeRegular {
			return k
		}
	}
	return ""
}

// ---- benchmark ----

// makeBenchTree writes 5,000 files of ~10 kB (50 MB) in 50 dirs.
func makeBenchTree(b *testing.B, dir string) {
	buf := make([]byte, 10_000)
	for i := range buf {
		buf[i] = byte(i*7 + i/13)
	}
	for d := range 50 {
		sub := filepath.Join(dir, fmt.Sprintf("dir%02d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			buf[0] = byte(f)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file%03d.bin", f)), buf, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCopy5000 times `COPY . /data/` of 5,000 files (50 MB) against
// `tar -C src -cf - . | tar -C dst -xf -` of the same tree.
func BenchmarkCopy5000(b *testing.B) {
	ctxDir := b.TempDir()
	makeBenchTree(b, ctxDir)
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nCOPY . /data/\n"), 0o644)
	plan, err := frontend.NewPlan(frontend.Options{ContextDir: ctxDir})
	if err != nil {
		b.Fatal(err)
	}
	scratch := b.TempDir()
	var copyNs, tarNs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store, err := layers.Open(filepath.Join(scratch, fmt.Sprint("root", i)))
		if err != nil {
			b.Fatal(err)
		}
		dst := filepath.Join(scratch, fmt.Sprint("tar", i))
		os.Mkdir(dst, 0o755)
		syscall.Sync()
		b.StartTimer()

		t0 := time.Now()
		e := &Executor{Store: store, Plan: plan, Opt: frontend.Options{ContextDir: ctxDir}}
		if _, err := e.Build(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
		copyNs += time.Since(t0)

		t0 = time.Now()
		out, err := exec.Command("sh", "-c", `tar -C "$1" -cf - . | tar -C "$2" -xf -`, "sh", ctxDir, dst).CombinedOutput()
		if err != nil {
			b.Fatalf("tar: %v: %s", err, out)
		}
		tarNs += time.Since(t0)

		b.StopTimer()
		store.Close()
		os.RemoveAll(filepath.Join(scratch, fmt.Sprint("root", i)))
		os.RemoveAll(dst)
		b.StartTimer()
	}
	b.ReportMetric(float64(copyNs.Nanoseconds())/float64(b.N), "ns/copy")
	b.ReportMetric(float64(tarNs.Nanoseconds())/float64(b.N), "ns/tar")
	b.ReportMetric(float64(copyNs)/float64(tarNs), "x-tar")
}
