package layers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// tent is one entry of a test tarball.
type tent struct {
	hdr  tar.Header
	body string
}

func file(name, body string, mode int64) tent {
	return tent{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: tmod}, body}
}

func dirent(name string, mode int64) tent {
	return tent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: tmod}}
}

func symlink(name, target string) tent {
	return tent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: tmod}}
}

func hardlink(name, target string) tent {
	return tent{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: tmod}}
}

var tmod = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func tarBytes(t testing.TB, ents ...tent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.hdr
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar header %s: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func lstat(t testing.TB, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat: %v", err)
	}
	return &st
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func getxattr(p, name string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// capNetRaw is a VFS_CAP_REVISION_2 security.capability value granting
// cap_net_raw (effective).
var capNetRaw = string([]byte{
	0x01, 0x00, 0x00, 0x02, // magic_etc: revision 2 | VFS_CAP_FLAGS_EFFECTIVE
	0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // data[0]: permitted 1<<13, inheritable 0
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // data[1]
})

func TestExtract(t *testing.T) {
	requireRoot(t)
	withX := func(e tent, kv ...string) tent {
		e.hdr.PAXRecords = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			e.hdr.PAXRecords[paxXattrPrefix+kv[i]] = kv[i+1]
		}
		return e
	}
	owned := func(e tent, uid, gid int) tent { e.hdr.Uid, e.hdr.Gid = uid, gid; return e }
	tests := []struct {
		name  string
		ents  []tent
		check func(t *testing.T, dir string)
	}{{
		name: "files and dirs",
		ents: []tent{dirent("etc/", 0o755), file("etc/passwd", "root:x:0:0\n", 0o644), file("./usr/bin/tool", "#!", 0o755)},
		check: func(t *testing.T, dir string) {
			if got := readFile(t, dir+"/etc/passwd"); got != "root:x:0:0\n" {
				t.Errorf("content %q", got)
			}
			if st := lstat(t, dir+"/etc/passwd"); st.Mode&0o7777 != 0o644 || int64(st.Mtim.Sec) != tmod.Unix() {
				t.Errorf("passwd mode %o mtime %d", st.Mode, st.Mtim.Sec)
			}
			// implicit parents
			if st := lstat(t, dir+"/usr/bin"); st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o7777 != 0o755 {
				t.Errorf("usr/bin mode %o", st.Mode)
			}
			// a directory's mtime survives the files written into it
			if st := lstat(t, dir+"/etc"); int64(st.Mtim.Sec) != tmod.Unix() {
				t.Errorf("etc mtime %v", time.Unix(int64(st.Mtim.Sec), 0))
			}
		},
	}, {
		name: "modes and owners",
		ents: []tent{
			owned(file("bin/su", "x", 0o4755), 0, 0),
			owned(file("bin/wall", "x", 0o2755), 0, 5),
			owned(dirent("tmp/", 0o1777), 0, 0),
			owned(file("home/u/f", "x", 0o600), 1000, 1001),
			owned(symlink("home/u/l", "f"), 1000, 1001),
		},
		check: func(t *testing.T, dir string) {
			for p, want := range map[string]uint32{"bin/su": 0o4755, "bin/wall": 0o2755, "tmp": 0o1777, "home/u/f": 0o600} {
				if st := lstat(t, dir+"/"+p); st.Mode&0o7777 != want {
					t.Errorf("%s mode %o, want %o", p, st.Mode&0o7777, want)
				}
			}
			if st := lstat(t, dir+"/bin/wall"); st.Gid != 5 {
				t.Errorf("wall gid %d", st.Gid)
			}
			for _, p := range []string{"home/u/f", "home/u/l"} {
				if st := lstat(t, dir+"/"+p); st.Uid != 1000 || st.Gid != 1001 {
					t.Errorf("%s owner %d:%d", p, st.Uid, st.Gid)
				}
			}
		},
	}, {
		name: "symlinks and hardlinks",
		ents: []tent{
			file("a/f", "data", 0o644),
			hardlink("a/g", "a/f"),
			hardlink("b/h", "./a/f"),
			symlink("abs", "/etc/passwd"),
			symlink("up", "../../x"),
			symlink("lib", "usr/lib"),
			dirent("usr/lib/", 0o755),
			file("lib/through", "ok", 0o644), // through a symlink that stays inside
		},
		check: func(t *testing.T, dir string) {
			f, g, h := lstat(t, dir+"/a/f"), lstat(t, dir+"/a/g"), lstat(t, dir+"/b/h")
			if f.Ino != g.Ino || f.Ino != h.Ino || f.Nlink != 3 {
				t.Errorf("hardlinks: ino %d %d %d nlink %d", f.Ino, g.Ino, h.Ino, f.Nlink)
			}
			for p, want := range map[string]string{"abs": "/etc/passwd", "up": "../../x", "lib": "usr/lib"} {
				if got, err := os.Readlink(dir + "/" + p); err != nil || got != want {
					t.Errorf("readlink %s = %q, %v", p, got, err)
				}
			}
			if got := readFile(t, dir+"/usr/lib/through"); got != "ok" {
				t.Errorf("through %q", got)
			}
		},
	}, {
		name: "whiteouts",
		ents: []tent{
			dirent("etc/", 0o755),
			file("etc/.wh.shadow", "", 0),
			dirent("var/cache/", 0o755),
			file("var/cache/.wh..wh..opq", "", 0),
			file("var/cache/new", "n", 0o644),
			file("same/x", "kept", 0o644),
			file("same/.wh.x", "", 0), // a whiteout hides lower layers only
			file("gone/.wh.dir", "", 0),
		},
		check: func(t *testing.T, dir string) {
			for _, p := range []string{"etc/shadow", "gone/dir"} {
				st := lstat(t, dir+"/"+p)
				if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
					t.Errorf("%s is not a whiteout: mode %o rdev %d", p, st.Mode, st.Rdev)
				}
			}
			if v, err := getxattr(dir+"/var/cache", ovlOpaqueXattr); err != nil || v != "y" {
				t.Errorf("opaque xattr %q %v", v, err)
			}
			if _, err := os.Lstat(dir + "/var/cache/.wh..wh..opq"); !os.IsNotExist(err) {
				t.Errorf("opaque marker left as a file: %v", err)
			}
			if got := readFile(t, dir+"/same/x"); got != "kept" {
				t.Errorf("same/x %q", got)
			}
			if _, err := os.Lstat(dir + "/etc/.wh.shadow"); !os.IsNotExist(err) {
				t.Errorf("whiteout left as a file: %v", err)
			}
		},
	}, {
		name: "xattrs",
		ents: []tent{
			withX(file("bin/ping", "elf", 0o755), "security.capability", capNetRaw),
			withX(file("u", "", 0o644), "user.mime", "text/plain", "trusted.overlay.opaque", "y", "trusted.other", "t"),
			withX(dirent("d/", 0o755), "user.d", "1"),
		},
		check: func(t *testing.T, dir string) {
			if v, err := getxattr(dir+"/bin/ping", "security.capability"); err != nil || v != capNetRaw {
				t.Errorf("capability %q %v", v, err)
			}
			if v, err := getxattr(dir+"/u", "user.mime"); err != nil || v != "text/plain" {
				t.Errorf("user.mime %q %v", v, err)
			}
			if v, err := getxattr(dir+"/u", "trusted.other"); err != nil || v != "t" {
				t.Errorf("trusted.other %q %v", v, err)
			}
			if _, err := getxattr(dir+"/u", "trusted.overlay.opaque"); err == nil {
				t.Errorf("trusted.overlay.* from the tar was applied")
			}
			if v, err := getxattr(dir+"/d", "user.d"); err != nil || v != "1" {
				t.Errorf("user.d %q %v", v, err)
			}
		},
	}, {
		name: "devices and fifos",
		ents: []tent{
			{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: tmod}},
			{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/loop9", Mode: 0o660, Devmajor: 7, Devminor: 9, ModTime: tmod}},
			{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o620, ModTime: tmod}},
		},
		check: func(t *testing.T, dir string) {
			if st := lstat(t, dir+"/dev/null"); st.Mode != unix.S_IFCHR|0o666 || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
				t.Errorf("dev/null mode %o rdev %d:%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
			}
			if st := lstat(t, dir+"/dev/loop9"); st.Mode != unix.S_IFBLK|0o660 || unix.Minor(st.Rdev) != 9 {
				t.Errorf("dev/loop9 mode %o", st.Mode)
			}
			if st := lstat(t, dir+"/run/fifo"); st.Mode != unix.S_IFIFO|0o620 {
				t.Errorf("fifo mode %o", st.Mode)
			}
		},
	}, {
		name: "zero runs become holes",
		ents: []tent{
			file("sparse", strings.Repeat("\x00", 1<<20)+"end", 0o644),
			file("zeros", strings.Repeat("\x00", 1<<20), 0o644),
		},
		check: func(t *testing.T, dir string) {
			if got := readFile(t, dir+"/sparse"); got != strings.Repeat("\x00", 1<<20)+"end" {
				t.Errorf("sparse content differs (%d bytes)", len(got))
			}
			if st := lstat(t, dir+"/zeros"); st.Size != 1<<20 || st.Blocks*512 >= 1<<20 {
				t.Errorf("zeros: size %d, %d blocks", st.Size, st.Blocks)
			}
		},
	}, {
		name: "later entries replace earlier ones",
		ents: []tent{
			file("x", "file", 0o644),
			dirent("x/", 0o755),
			file("x/in", "in", 0o644),
			file("x", "file again", 0o644), // replaces a directory
			symlink("y", "/"),
			file("y", "no longer a link", 0o644), // must not write through the symlink
			dirent("z/", 0o700),
			dirent("z/", 0o755), // a directory stays, its metadata changes
		},
		check: func(t *testing.T, dir string) {
			if got := readFile(t, dir+"/x"); got != "file again" {
				t.Errorf("x %q", got)
			}
			if got := readFile(t, dir+"/y"); got != "no longer a link" {
				t.Errorf("y %q", got)
			}
			if st := lstat(t, dir+"/z"); st.Mode&0o777 != 0o755 {
				t.Errorf("z mode %o", st.Mode)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := extract(bytes.NewReader(tarBytes(t, tc.ents...)), dir); err != nil {
				t.Fatal(err)
			}
			tc.check(t, dir)
		})
	}
}

// escapeLayout makes base/{layer,outside} and returns both.
func escapeLayout(t testing.TB) (dir, outside string) {
	base := t.TempDir()
	dir, outside = filepath.Join(base, "layer"), filepath.Join(base, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, outside
}

// checkOutside fails when anything was created next to dir or in outside.
func checkOutside(t testing.TB, dir, outside string) {
	t.Helper()
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("written outside the layer: %s", filepath.Join(outside, e.Name()))
	}
	ents, err = os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		for _, e := range ents {
			t.Logf("next to the layer: %s", e.Name())
		}
		t.Errorf("written next to the layer")
	}
}

func TestExtractRefuses(t *testing.T) {
	tests := []struct {
		name    string
		ents    func(outside string) []tent
		wantErr string
	}{
		{"dotdot", func(string) []tent { return []tent{file("../outside/x", "x", 0o644)} }, `layer entry "../outside/x": path escapes the layer`},
		{"dotdot inside", func(string) []tent { return []tent{file("a/../../outside/x", "x", 0o644)} }, `layer entry "a/../../outside/x": path escapes the layer`},
		{"dotdot harmless", func(string) []tent { return []tent{file("a/../b", "x", 0o644)} }, `layer entry "a/../b": path escapes the layer`},
		{"absolute", func(o string) []tent { return []tent{file(o+"/x", "x", 0o644)} }, "path escapes the layer"},
		{"absolute root", func(string) []tent { return []tent{file("/etc/x", "x", 0o644)} }, `layer entry "/etc/x": path escapes the layer`},
		{"symlink dotdot then through", func(string) []tent {
			return []tent{symlink("a", "../outside"), file("a/x", "x", 0o644)}
		}, `layer entry "a/x": path escapes the layer`},
		{"symlink absolute then through", func(o string) []tent {
			return []tent{symlink("a", o), file("a/x", "x", 0o644)}
		}, `layer entry "a/x": path escapes the layer`},
		{"symlink to root then through", func(string) []tent {
			return []tent{symlink("a", "/"), file("a/tmp/strata-escape", "x", 0o644)}
		}, `layer entry "a/tmp/strata-escape": path escapes the layer`},
		{"symlink chain", func(string) []tent {
			return []tent{symlink("b", ".."), symlink("a", "b/outside"), dirent("a/sub/", 0o755)}
		}, `layer entry "a/sub/": path escapes the layer`},
		{"symlink dir then mkdir", func(string) []tent {
			return []tent{symlink("a", "../outside"), dirent("a/d/", 0o755)}
		}, "path escapes the layer"},
		{"whiteout through symlink", func(string) []tent {
			return []tent{symlink("a", "../outside"), file("a/.wh.x", "", 0)}
		}, "path escapes the layer"},
		{"opaque through symlink", func(string) []tent {
			return []tent{symlink("a", "../outside"), file("a/.wh..wh..opq", "", 0)}
		}, "path escapes the layer"},
		{"hardlink dotdot", func(string) []tent { return []tent{hardlink("h", "../outside/x")} }, `layer entry "h": hardlink target "../outside/x": path escapes the layer`},
		{"hardlink absolute", func(string) []tent { return []tent{hardlink("h", "/etc/passwd")} }, "path escapes the layer"},
		{"hardlink through symlink", func(string) []tent {
			return []tent{symlink("a", "/etc"), hardlink("h", "a/passwd")}
		}, "path escapes the layer"},
		{"hardlink missing", func(string) []tent { return []tent{hardlink("h", "nope")} }, "not in the archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, outside := escapeLayout(t)
			_, err := ExtractWith(bytes.NewReader(tarBytes(t, tc.ents(outside)...)), dir, refuseOpts())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "escapes") && !errors.Is(err, ErrPathEscapes) {
				t.Errorf("error does not wrap ErrPathEscapes: %v", err)
			}
			checkOutside(t, dir, outside)
			if _, err := os.Lstat("/tmp/strata-escape"); err == nil {
				t.Errorf("/tmp/strata-escape was created")
			}
		})
	}
}

// refuseOpts are the options of Extract, but without chown when the tests
// do not run as root, so that the escapes are what fails.
func refuseOpts() ExtractOptions {
	return ExtractOptions{OverlayWhiteouts: true, NoSameOwner: os.Geteuid() != 0}
}

func TestExtractRefusesExistingSymlink(t *testing.T) {
	for _, target := range []string{"../outside", "", "/"} {
		t.Run(target, func(t *testing.T) {
			dir, outside := escapeLayout(t)
			if target == "" {
				target = outside
			}
			must(t, os.Symlink(target, dir+"/pre"))
			_, err := ExtractWith(bytes.NewReader(tarBytes(t, file("pre/x", "x", 0o644))), dir, refuseOpts())
			if !errors.Is(err, ErrPathEscapes) || !strings.Contains(err.Error(), `layer entry "pre/x"`) {
				t.Errorf("err = %v", err)
			}
			checkOutside(t, dir, outside)
		})
	}
}

func TestExtractWithOptions(t *testing.T) {
	requireRoot(t)
	ents := []tent{
		file(".wh.x", "", 0o644),
		file("d/.wh..wh..opq", "", 0o644),
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "f", Mode: 0o644, Uid: 5, Gid: 6, ModTime: tmod}},
	}
	t.Run("whiteouts off", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := ExtractWith(bytes.NewReader(tarBytes(t, ents...)), dir, ExtractOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{".wh.x", "d/.wh..wh..opq"} {
			if st := lstat(t, dir+"/"+p); st.Mode&unix.S_IFMT != unix.S_IFREG {
				t.Errorf("%s mode %o", p, st.Mode)
			}
		}
		if st := lstat(t, dir+"/f"); st.Uid != 5 || st.Gid != 6 {
			t.Errorf("owner %d:%d", st.Uid, st.Gid)
		}
	})
	t.Run("owner override", func(t *testing.T) {
		dir := t.TempDir()
		uid, gid := 1234, 4321
		if _, err := ExtractWith(bytes.NewReader(tarBytes(t, ents...)), dir, ExtractOptions{UID: &uid, GID: &gid}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"f", "d", "d/.wh..wh..opq"} {
			if st := lstat(t, dir+"/"+p); st.Uid != 1234 || st.Gid != 4321 {
				t.Errorf("%s owner %d:%d", p, st.Uid, st.Gid)
			}
		}
	})
	t.Run("no same owner", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := ExtractWith(bytes.NewReader(tarBytes(t, ents...)), dir, ExtractOptions{NoSameOwner: true}); err != nil {
			t.Fatal(err)
		}
		if st := lstat(t, dir+"/f"); int(st.Uid) != os.Geteuid() {
			t.Errorf("owner %d:%d", st.Uid, st.Gid)
		}
	})
}

func TestExtractCompressed(t *testing.T) {
	raw := tarBytes(t, file("hello", "world", 0o644))
	compressors := map[string]func() ([]byte, error){
		"none": func() ([]byte, error) { return raw, nil },
		"gzip": func() ([]byte, error) {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(raw)
			err := zw.Close()
			return b.Bytes(), err
		},
		"xz": func() ([]byte, error) {
			var b bytes.Buffer
			zw, err := xz.NewWriter(&b)
			if err != nil {
				return nil, err
			}
			zw.Write(raw)
			err = zw.Close()
			return b.Bytes(), err
		},
		"zstd": func() ([]byte, error) {
			var b bytes.Buffer
			zw, err := zstd.NewWriter(&b)
			if err != nil {
				return nil, err
			}
			zw.Write(raw)
			err = zw.Close()
			return b.Bytes(), err
		},
		"bzip2": func() ([]byte, error) {
			if _, err := exec.LookPath("bzip2"); err != nil {
				return nil, errSkip
			}
			cmd := exec.Command("bzip2", "-c")
			cmd.Stdin = bytes.NewReader(raw)
			return cmd.Output()
		},
	}
	for name, compress := range compressors {
		t.Run(name, func(t *testing.T) {
			data, err := compress()
			if err == errSkip {
				t.Skip("bzip2 is not installed")
			}
			if err != nil {
				t.Fatal(err)
			}
			if name == "none" {
				// Padding after the archive must be consumed too.
				data = append(data, make([]byte, 4096)...)
			}
			r := bytes.NewReader(data)
			dir := t.TempDir()
			st, err := ExtractWith(r, dir, ExtractOptions{NoSameOwner: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, dir+"/hello"); got != "world" {
				t.Errorf("content %q", got)
			}
			if st.Files != 1 || st.Bytes != 5 {
				t.Errorf("stats %+v", st)
			}
			if r.Len() != 0 && name == "none" {
				t.Errorf("%d bytes left unread", r.Len())
			}
		})
	}
}

var errSkip = errors.New("skip")

func TestCleanEntryName(t *testing.T) {
	for in, want := range map[string]string{
		"a": "a", "./a": "a", "a/": "a", "a//b/./c/": "a/b/c", "./": ".", ".": ".", "a..b": "a..b", "..a/b": "..a/b",
	} {
		got, err := cleanEntryName(in)
		if err != nil || got != want {
			t.Errorf("cleanEntryName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../a", "a/..", "a/../b", "/a", "/", ""} {
		if got, err := cleanEntryName(in); err == nil {
			t.Errorf("cleanEntryName(%q) = %q, want an error", in, got)
		}
	}
}

// BenchmarkExtract compares Extract with `tar -xf` of the same layer (the
// 10,000 files of BenchmarkDiff10k); "ratio" is Extract's time over tar's.
func BenchmarkExtract(b *testing.B) {
	requireRoot(b)
	if _, err := exec.LookPath("tar"); err != nil {
		b.Skip("tar is not installed")
	}
	upper, size := benchUpper(b)
	base := filepath.Dir(upper)
	layer := filepath.Join(base, "layer.tar")
	f, err := os.Create(layer)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Diff(upper, nil, f, DiffOptions{}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	var tOurs, tTar time.Duration
	n := 0
	b.SetBytes(size)
	runOurs := func(dst string) {
		f, err := os.Open(layer)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if _, err := extract(f, dst); err != nil {
			b.Fatal(err)
		}
	}
	runTar := func(dst string) {
		if msg, err := exec.Command("tar", "-C", dst, "-xpf", layer).CombinedOutput(); err != nil {
			b.Fatalf("tar: %v\n%s", err, msg)
		}
	}
	timed := func(fn func(string)) time.Duration {
		dst := filepath.Join(base, "dst")
		os.RemoveAll(dst)
		os.Mkdir(dst, 0o755)
		unix.Sync() // no dirty pages of the previous round
		start := time.Now()
		fn(dst)
		return time.Since(start)
	}
	for b.Loop() {
		// alternate who goes first
		if n%2 == 0 {
			tOurs += timed(runOurs)
			tTar += timed(runTar)
		} else {
			tTar += timed(runTar)
			tOurs += timed(runOurs)
		}
		n++
	}
	b.ReportMetric(float64(tOurs.Milliseconds())/float64(n), "extract-ms/op")
	b.ReportMetric(float64(tTar.Milliseconds())/float64(n), "tar-ms/op")
	b.ReportMetric(float64(tOurs)/float64(tTar), "ratio")
}
