package build

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// copyLayer is the diff id of the COPY (step 1) of a build of dir.
func copyLayer(t *testing.T, store *layers.Store, dir string) v1.Hash {
	t.Helper()
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	ids := r.cfg().RootFS.DiffIDs
	if len(ids) != 1 {
		t.Fatalf("layers %v, want the COPY's", ids)
	}
	return ids[0]
}

// TestIncrementalCopy: a rebuild of a COPY whose sources changed in a few
// files starts from the last build's layer: the unchanged files are that
// layer's (same inode), the modified, added and mode-changed ones are
// copied, the deleted one is gone; the layer is byte-identical to a cold
// COPY of the same context in a new store, and the last build's layer is
// untouched.
func TestIncrementalCopy(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	files := map[string]string{"Dockerfile": "FROM scratch\nCOPY src/ /\n"}
	for i := range 40 {
		files[fmt.Sprintf("src/d%d/f%02d", i%4, i)] = fmt.Sprint("content ", i)
	}
	writeTree(t, dir, files)
	src := filepath.Join(dir, "src")
	// Two names of one file: the layer links them too.
	if err := os.Link(filepath.Join(src, "d0/f00"), filepath.Join(src, "d0/hard")); err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	first := copyLayer(t, store, dir)
	oldFS := store.LayerFS(first)

	if err := os.WriteFile(filepath.Join(src, "d1/f01"), []byte("modified"), 0o644); err != nil { // modified
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d2/new"), []byte("added"), 0o644); err != nil { // added
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "d3/f03")); err != nil { // deleted
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "d0/f04"), 0o755); err != nil { // mode changed
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := os.Chtimes(filepath.Join(src, "d1/f05"), later, later); err != nil { // same content, new date
		t.Fatal(err)
	}
	// The two names become two files with the same content and date: the
	// last build's single inode may serve one of them only.
	fi, err := os.Stat(filepath.Join(src, "d0/hard"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "d0/hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d0/hard"), []byte("content 0"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(src, "d0/hard"), fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	second := copyLayer(t, store, dir)
	if second == first {
		t.Fatal("the changed context made the same layer")
	}
	newFS := store.LayerFS(second)

	coldStore := newStore(t)
	cold := copyLayer(t, coldStore, dir)
	if cold != second {
		t.Errorf("incremental layer %s, cold COPY's %s: they differ:\n%s\nwant\n%s", second, cold,
			tarList(t, blobFile(store, second), time.Now().Add(time.Hour)), tarList(t, blobFile(coldStore, cold), time.Now().Add(time.Hour)))
	}

	// Unchanged files are shared; what changed is new.
	if a, b := inode(t, filepath.Join(oldFS, "d2/f02")), inode(t, filepath.Join(newFS, "d2/f02")); a != b {
		t.Errorf("unchanged d2/f02 was copied (inode %d, last build's %d), want linked", b, a)
	}
	for _, p := range []string{"d1/f01", "d0/f04", "d1/f05"} {
		if a, b := inode(t, filepath.Join(oldFS, p)), inode(t, filepath.Join(newFS, p)); a == b {
			t.Errorf("changed %s shares the last build's inode", p)
		}
	}
	check := func(fsDir, p, want string, mode os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(fsDir, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return
		}
		fi, _ := os.Lstat(filepath.Join(fsDir, p))
		if string(b) != want || fi.Mode().Perm() != mode {
			t.Errorf("%s: %q %v, want %q %v", p, b, fi.Mode().Perm(), want, mode)
		}
	}
	check(newFS, "d1/f01", "modified", 0o644)
	check(newFS, "d2/new", "added", 0o644)
	check(newFS, "d0/f04", "content 4", 0o755)
	check(newFS, "d2/f02", "content 2", 0o644)
	if a, b := inode(t, filepath.Join(newFS, "d0/f00")), inode(t, filepath.Join(newFS, "d0/hard")); a == b {
		t.Error("d0/f00 and d0/hard, two files now, share an inode in the new layer")
	}
	if _, err := os.Lstat(filepath.Join(newFS, "d3/f03")); err == nil {
		t.Error("deleted d3/f03 is in the new layer")
	}
	// The last build's layer is as it was.
	check(oldFS, "d1/f01", "content 1", 0o644)
	check(oldFS, "d0/f04", "content 4", 0o644)
	check(oldFS, "d3/f03", "content 3", 0o644)
}
