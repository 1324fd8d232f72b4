package build

import (
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// TestCopyFromEmptyDirectory: COPY of a directory makes the destination
// directory even when the source is empty, as BuildKit's copy does:
// docker build of `FROM scratch AS base` + `WORKDIR /foo`, then
// `COPY --from=base /foo /foo-copy` has /foo-copy, 755 0:0, in its layer.
func TestCopyFromEmptyDirectory(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	df := "FROM scratch AS base\nWORKDIR /foo\n\nFROM scratch\nCOPY --from=base /foo /foo-copy\nCOPY --from=base /foo /bar/\n"
	r := build(t, store, df, nil, frontend.Options{}).mustOK(t)
	ch := r.change(t, 3, "/foo-copy")
	if !ch.Mode.IsDir() || ch.Mode.Perm() != 0o755 || ch.UID != 0 || ch.GID != 0 {
		t.Errorf("/foo-copy: %v %d:%d, want a directory 755 0:0", ch.Mode, ch.UID, ch.GID)
	}
	if ch := r.change(t, 4, "/bar"); !ch.Mode.IsDir() {
		t.Errorf("/bar: %v, want a directory", ch.Mode)
	}
}
