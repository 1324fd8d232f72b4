package layers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzExtract feeds arbitrary bytes (seeded with tarballs that try to
// escape) to Extract (without chown when not root): it must not panic and must never write outside the
// target directory, neither next to it nor at a fixed absolute path the
// seeds aim at.
func FuzzExtract(f *testing.F) {
	abs := filepath.Join(os.TempDir(), "strata-fuzz-outside")
	if err := os.MkdirAll(abs, 0o755); err != nil {
		f.Fatal(err)
	}
	seeds := [][]tent{
		{file("a", "x", 0o644), dirent("d/", 0o755), file("d/f", "y", 0o600)},
		{file("../outside/x", "x", 0o644)},
		{file("/etc/x", "x", 0o644)},
		{symlink("a", "../outside"), file("a/x", "x", 0o644)},
		{symlink("a", abs), file("a/pwned", "x", 0o644)},
		{symlink("a", "/"), dirent("a/tmp/strata-fuzz-outside/d/", 0o755)},
		{symlink("b", ".."), symlink("a", "b/outside"), file("a/x", "x", 0o644)},
		{hardlink("h", "../outside/x")},
		{symlink("s", abs), hardlink("h", "s/x")},
		{file("f", "x", 0o644), hardlink("g", "f"), file("g", "replaced", 0o644)},
		{dirent("d/", 0o755), file("d/.wh..wh..opq", "", 0), file(".wh.d", "", 0), file("d/.wh.x", "", 0)},
		{symlink("w", "../outside"), file("w/.wh.x", "", 0), file("w/.wh..wh..opq", "", 0)},
		{dirent("x/", 0o755), symlink("x", "../outside"), file("x/y", "y", 0o644)},
		{
			{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "p", Mode: 0o644}},
			{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "c", Mode: 0o644, Devmajor: 1, Devminor: 3}},
			file("p", "over a fifo", 0o644),
			file("c", "over a device", 0o644),
		},
	}
	for _, s := range seeds {
		b := tarBytes(f, s...)
		f.Add(b)
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		f.Add(z.Bytes())
	}
	f.Add([]byte{})
	f.Add([]byte("BZh91AY&SY garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir, outside := escapeLayout(t)
		ExtractWith(bytes.NewReader(data), dir, refuseOpts())
		checkOutside(t, dir, outside)
		ents, err := os.ReadDir(abs)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("written outside the layer: %s", filepath.Join(abs, e.Name()))
		}
	})
}
