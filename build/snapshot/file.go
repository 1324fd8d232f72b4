package snapshot

import (
	"fmt"
	"io"

	"github.com/strata-build/strata/build/event"
)

// OpenFile opens a regular file of a snapshot (symlinks followed) for
// reading the whole of it, and returns its size: the TUI compares files of
// any size by size and digest, and diffs them past the first megabyte.
func (b *Backend) OpenFile(snap *event.Snapshot, p string) (io.ReadCloser, int64, error) {
	if err := b.ready(snap); err != nil {
		return nil, 0, err
	}
	v := b.View(snap)
	e, err := v.Stat(p)
	if err != nil {
		return nil, 0, err
	}
	if !e.Info.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file (%s)", p, e.Info.Mode().Type())
	}
	f, err := v.Open(e)
	if err != nil {
		return nil, 0, err
	}
	return f, e.Info.Size(), nil
}
