package snapshot

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// OpenFile gives the whole of a file however big, with its size (the TUI
// compares files past their first megabyte through it), follows symlinks,
// and refuses what is not a regular file.
func TestOpenFileWhole(t *testing.T) {
	st, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	upper := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB
	if err := os.WriteFile(filepath.Join(upper, "big"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("big", filepath.Join(upper, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(upper, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := NewBackend(st, nil)
	snap := &event.Snapshot{UpperDir: upper}
	for _, p := range []string{"/big", "/link"} {
		r, n, err := b.OpenFile(snap, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || n != int64(len(big)) || !bytes.Equal(got, big) {
			t.Fatalf("%s: size %d, read %d bytes (%v), want all %d", p, n, len(got), err, len(big))
		}
	}
	if _, _, err := b.OpenFile(snap, "/dir"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	if _, _, err := b.OpenFile(snap, "/nope"); err == nil {
		t.Error("an absent file opened")
	}
}
