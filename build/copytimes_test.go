package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-build/strata/build/frontend"
)

// TestCopyKeepsDirTimes: a directory copied from the context keeps its
// source's mtime, though files are created in it afterwards (BuildKit sets
// a dir's times once its contents are copied), so a rebuild makes the same
// layer.
func TestCopyKeepsDirTimes(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	dir := writeContext(t, "FROM scratch\nCOPY d /x/\n", map[string]string{"d/sub/deeper/f": "f", "d/sub/g": "g"})
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range []string{"d/sub/deeper", "d/sub"} {
		if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	for _, p := range []string{"/x/sub", "/x/sub/deeper"} {
		if c := r.change(t, r.lastStep(), p); !c.ModTime.Equal(old) {
			t.Errorf("%s mtime %v, want the source's %v", p, c.ModTime, old)
		}
	}
}
