package sandbox

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// TestCopySnapshotUnionAndUpper: the copying snapshotter's root is the
// overlay view of its lowers (whiteouts hide, an opaque dir stops the
// layers below, the top one wins), and what a command changes in it comes
// out in overlayfs' upper-dir form: changed files and their parents, a
// whiteout per deleted path (not per path below a deleted dir), an opaque
// dir for a dir made again, hard links kept, untouched entries left out.
func TestCopySnapshotUnionAndUpper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: whiteouts are device nodes (CI runs as root)")
	}
	tmp := t.TempDir()
	top, bottom, upper := filepath.Join(tmp, "top"), filepath.Join(tmp, "bottom"), filepath.Join(tmp, "upper")
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(bottom+"/keep", "bottom")
	write(bottom+"/shadowed", "bottom")
	write(bottom+"/gone", "bottom")
	write(bottom+"/opq/old", "bottom")
	write(bottom+"/dir/a", "bottom")
	write(bottom+"/dir/b", "bottom")
	write(bottom+"/redo/x", "bottom")
	write(top+"/shadowed", "top")
	write(top+"/opq/new", "top")
	if err := unix.Lsetxattr(top+"/opq", rootless.OverlayOpaqueXattr(), []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(top+"/gone", unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(upper, 0o755); err != nil {
		t.Fatal(err)
	}
	cs, err := newCopySnapshot(filepath.Join(tmp, "merged"), []string{top, bottom}, upper)
	if err != nil {
		t.Fatal(err)
	}
	m := cs.dir
	if got := tree(t, m); got != "dir/ dir/a dir/b keep opq/ opq/new redo/ redo/x shadowed" {
		t.Errorf("union: %s", got)
	}
	if b, _ := os.ReadFile(m + "/shadowed"); string(b) != "top" {
		t.Errorf("shadowed = %q, want the top layer's", b)
	}
	// the command
	write(m+"/dir/a", "changed")
	write(m+"/added/f", "new")
	if err := os.Link(m+"/added/f", m+"/added/link"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{m + "/keep", m + "/dir/b"} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(m + "/redo"); err != nil {
		t.Fatal(err)
	}
	write(m+"/redo/y", "again")
	if err := cs.diffInto(upper); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, upper), "added/ added/f added/link dir/ dir/a dir/b(wh) keep(wh) redo/(opaque) redo/y"; got != want {
		t.Errorf("upper:\n got %s\nwant %s", got, want)
	}
	var a, b unix.Stat_t
	if unix.Lstat(upper+"/added/f", &a) != nil || unix.Lstat(upper+"/added/link", &b) != nil || a.Ino != b.Ino {
		t.Error("the hard link is not kept in upper")
	}
}

// tree lists dir's entries: dirs with /, whiteouts (wh), opaque dirs.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel := strings.TrimPrefix(p, dir+"/")
		var st unix.Stat_t
		unix.Lstat(p, &st)
		switch {
		case fi.IsDir():
			rel += "/"
			if isOpaqueDir(p) {
				rel += "(opaque)"
			}
		case isWhiteoutStat(&st):
			rel += "(wh)"
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}
