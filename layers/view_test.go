package layers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mkLayer makes a layer dir from a spec: "dir/", "file=content",
// "link->target", "wh!" (a whiteout), "opq/" + "opq/.opaque" marks opaque.
func mkLayer(t *testing.T, spec ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, s := range spec {
		switch {
		case strings.Contains(s, "->"):
			name, target, _ := strings.Cut(s, "->")
			mustV(t, os.MkdirAll(filepath.Dir(filepath.Join(d, name)), 0o755))
			mustV(t, os.Symlink(target, filepath.Join(d, name)))
		case strings.HasSuffix(s, "!"):
			p := filepath.Join(d, strings.TrimSuffix(s, "!"))
			mustV(t, os.MkdirAll(filepath.Dir(p), 0o755))
			mustV(t, unix.Mknod(p, unix.S_IFCHR, 0))
		case strings.HasSuffix(s, "/.opaque"):
			p := filepath.Join(d, strings.TrimSuffix(s, "/.opaque"))
			mustV(t, unix.Lsetxattr(p, "trusted.overlay.opaque", []byte("y"), 0))
		case strings.HasSuffix(s, "/"):
			mustV(t, os.MkdirAll(filepath.Join(d, s), 0o755))
		default:
			name, content, _ := strings.Cut(s, "=")
			mustV(t, os.MkdirAll(filepath.Dir(filepath.Join(d, name)), 0o755))
			mustV(t, os.WriteFile(filepath.Join(d, name), []byte(content), 0o644))
		}
	}
	return d
}

func mustV(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func names(es []*Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Path)
	}
	return strings.Join(out, " ")
}

// A lower layer's symlink `a -> HOSTDIR` under an upper layer's
// directories a/ and a/.docker/: every read stays in the image.
func TestViewNeverReadsThroughALayerSymlink(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root (whiteouts are device nodes, opaque dirs trusted.* xattrs)")
	}
	host := t.TempDir()
	mustV(t, os.MkdirAll(filepath.Join(host, ".docker"), 0o755))
	mustV(t, os.WriteFile(filepath.Join(host, ".docker/config.json"), []byte("host secret"), 0o600))
	mustV(t, os.WriteFile(filepath.Join(host, "secret"), []byte("host secret"), 0o600))
	lower := mkLayer(t, "a->"+host, "b->"+host)
	upper := mkLayer(t, "a/.docker/mine=image", "b/")
	v := &View{Lowers: []string{upper, lower}}

	es, err := v.ReadDir("/a/.docker")
	if err != nil || names(es) != "/a/.docker/mine" {
		t.Fatalf("ReadDir(/a/.docker) = %q, %v; want only the image's own file", names(es), err)
	}
	if es, err := v.ReadDir("/b"); err != nil || len(es) != 0 {
		t.Fatalf("ReadDir(/b) = %q, %v; want the image's empty dir", names(es), err)
	}
	if _, err := v.Lstat("/b/secret"); err == nil {
		t.Fatal("Lstat(/b/secret) found the host's file")
	}
	if data, err := v.ReadFile("/a/.docker/mine", 0); err != nil || string(data) != "image" {
		t.Fatalf("ReadFile: %q %v", data, err)
	}
	// In the lower layer alone, a is a symlink: following it stays in the
	// image, where HOSTDIR does not exist.
	only := &View{Lowers: []string{lower}}
	if _, err := only.Stat("/a/secret"); err == nil {
		t.Fatal("Stat(/a/secret) through an absolute link reached the host")
	}
	if _, err := only.ReadDir("/a"); err == nil {
		t.Fatal("ReadDir(/a) through an absolute link reached the host")
	}
	if _, err := only.ReadFile("/b/secret", 0); err == nil {
		t.Fatal("ReadFile(/b/secret) reached the host")
	}
}

// Overlay's rules: a whiteout or a file hides lower paths, an opaque dir
// hides lower contents, also for an opaque ancestor.
func TestViewOverlayRules(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root (whiteouts are device nodes, opaque dirs trusted.* xattrs)")
	}
	lower := mkLayer(t, "o/x/old=1", "o/keep=1", "w/f=1", "f/g=1", "d/lower=1")
	upper := mkLayer(t, "o/", "o/.opaque", "w!", "f=file", "d/upper=2")
	v := &View{Lowers: []string{upper, lower}}
	for p, want := range map[string]string{"/o": "", "/d": "/d/lower /d/upper"} {
		es, err := v.ReadDir(p)
		if err != nil || names(es) != want {
			t.Errorf("ReadDir(%s) = %q, %v; want %q", p, names(es), err, want)
		}
	}
	for _, p := range []string{"/o/x", "/o/x/old", "/o/keep", "/w", "/w/f", "/f/g"} {
		if _, err := v.Lstat(p); err == nil {
			t.Errorf("Lstat(%s) found a hidden path", p)
		}
	}
	if _, err := v.ReadDir("/o/x"); err == nil {
		t.Error("ReadDir(/o/x) listed a dir under an opaque one")
	}
}

func TestOverlayLowersQA(t *testing.T) {
	got := OverlayLowers([]string{"c", "x", "b", "x", "a", "c"})
	if strings.Join(got, ",") != "c,x,b,a" {
		t.Errorf("OverlayLowers = %v, want [c x b a] (the topmost copy of each)", got)
	}
}
