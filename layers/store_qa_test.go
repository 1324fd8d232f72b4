package layers

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NormalizeName accepts what docker accepts for -t and rejects the rest
// with a message naming the name and the right form.
func TestNormalizeNameQA(t *testing.T) {
	good := map[string]string{
		"x":                          "x:latest",
		"bb:1":                       "bb:1",
		"127.0.0.1:5000/app":         "127.0.0.1:5000/app:latest",
		"127.0.0.1:5000/app:v1.2-rc": "127.0.0.1:5000/app:v1.2-rc",
		"ghcr.io/o/r:tag":            "ghcr.io/o/r:tag",
		"localhost/a_b.c-d":          "localhost/a_b.c-d:latest",
		"localhost:5000/x/y:1":       "localhost:5000/x/y:1",
		"[::1]:5000/x":               "[::1]:5000/x:latest",
	}
	for in, want := range good {
		got, err := NormalizeName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"BAD:TAG::", "Upper", "a:b:c", "x:", "/x", "x//y", "x:t@g", "a b", "Sdocker-archive:/tmp/qa", "host:/x", "host:12a/x", "-x", "x:" + strings.Repeat("t", 129)} {
		_, err := NormalizeName(in)
		if err == nil {
			t.Errorf("NormalizeName(%q) accepted an invalid name", in)
			continue
		}
		if !strings.Contains(err.Error(), in) {
			t.Errorf("NormalizeName(%q): error %q does not name the input", in, err)
		}
	}
}

// WriteFileAtomic onto a directory fails saying so, before writing
// anything, and leaves no temp file beside it.
func TestWriteFileAtomicDirQA(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	called := false
	err := WriteFileAtomic(dir, func(w io.Writer) error { called = true; _, err := w.Write([]byte("x")); return err })
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("WriteFileAtomic onto a directory: %v, want an error saying it is a directory", err)
	}
	if called {
		t.Errorf("the content was produced before the destination was checked")
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left behind in %s: %v", parent, names)
	}
}

func TestOverlayLowersQA(t *testing.T) {
	got := OverlayLowers([]string{"c", "x", "b", "x", "a", "c"})
	if strings.Join(got, ",") != "c,x,b,a" {
		t.Errorf("OverlayLowers = %v, want [c x b a] (the topmost copy of each)", got)
	}
}
