package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-build/strata/layers/beneath"
)

// hostDir is a host directory with one file, old times and mode 0755, and
// a check that nothing in it was created, removed, chmodded or touched.
func hostDir(t *testing.T, files ...string) (string, func()) {
	t.Helper()
	host := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(host, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Unix(1e9, 0)
	if err := os.Chtimes(host, old, old); err != nil {
		t.Fatal(err)
	}
	return host, func() {
		t.Helper()
		ents, err := os.ReadDir(host)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if len(names) != len(files) {
			t.Errorf("host dir holds %q, want only %q: something was made or removed through a symlink", names, files)
		}
		fi, err := os.Lstat(host)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 && fi.Mode().Perm() != 0o755 || !fi.ModTime().Equal(old) {
			t.Errorf("host dir is now %v %v, want its mode and time %v kept", fi.Mode(), fi.ModTime(), old)
		}
		if names, _ := xattrList(host); len(names) != 0 {
			t.Errorf("host dir got xattrs %q", names)
		}
	}
}

func xattrList(p string) ([]string, error) {
	r, err := beneath.Open(p, beneath.NoSymlinks)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Llistxattr("")
}

// TestCopyDiffDoesNotFollowSymlinksInUpper: the copying snapshotter writes
// the run's changes into upper beneath it: where a directory of upper is a
// symlink to a host directory, the diff fails at it and creates nothing
// there.
func TestCopyDiffDoesNotFollowSymlinksInUpper(t *testing.T) {
	tmp := t.TempDir()
	lower, upper := filepath.Join(tmp, "lower"), filepath.Join(tmp, "upper")
	for _, d := range []string{lower + "/a", upper} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(lower+"/a/f", []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	cs, err := newCopySnapshot(filepath.Join(tmp, "merged"), []string{lower}, upper)
	if err != nil {
		t.Fatal(err)
	}
	// The run writes a/f and a/g.
	for _, f := range []string{"f", "g"} {
		if err := os.WriteFile(filepath.Join(cs.dir, "a", f), []byte("new"), 0o4755); err != nil {
			t.Fatal(err)
		}
	}
	host, check := hostDir(t)
	if err := os.Symlink(host, upper+"/a"); err != nil {
		t.Fatal(err)
	}
	err = cs.diffInto(upper)
	if !errors.Is(err, beneath.ErrSymlink) {
		t.Errorf("diffInto with upper/a -> %s: %v, want an error wrapping beneath.ErrSymlink", host, err)
	}
	check()
}

// TestFuseUpperRewriteDoesNotFollowSymlinks: normalizeUpper and
// fixCopyUpTimes act beneath the upper dir: a directory of it replaced by
// a symlink to a host directory (between listing and descending) fails,
// and the host directory's whiteout-named file stays, no device is made
// and no time or xattr is set there.
func TestFuseUpperRewriteDoesNotFollowSymlinks(t *testing.T) {
	tmp := t.TempDir()
	upper, lower := filepath.Join(tmp, "upper"), filepath.Join(tmp, "lower")
	for _, d := range []string{upper, lower + "/a"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	host, check := hostDir(t, ".wh.x")
	if err := os.Symlink(host, upper+"/a"); err != nil {
		t.Fatal(err)
	}
	ur, err := beneath.Open(upper, beneath.NoSymlinks)
	if err != nil {
		t.Fatal(err)
	}
	defer ur.Close()
	lr, err := beneath.Open(lower, beneath.NoSymlinks)
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	if err := normalizeDir(ur, "a", []*beneath.Root{lr}); !errors.Is(err, beneath.ErrSymlink) {
		t.Errorf("normalizeDir of upper/a -> %s: %v, want an error wrapping beneath.ErrSymlink", host, err)
	}
	if err := fixDirTimes(ur, "a", []*beneath.Root{lr}, dirTimes{}, 0); !errors.Is(err, beneath.ErrSymlink) {
		t.Errorf("fixDirTimes of upper/a -> %s: %v, want an error wrapping beneath.ErrSymlink", host, err)
	}
	// The whole walk does not descend into the symlink either.
	if err := normalizeUpper(upper, []string{lower}); err != nil {
		t.Errorf("normalizeUpper: %v", err)
	}
	if err := fixCopyUpTimes(upper, []string{lower}, dirTimes{}, time.Unix(0, 0)); err != nil {
		t.Errorf("fixCopyUpTimes: %v", err)
	}
	check()
}
