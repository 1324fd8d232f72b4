package layers

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The xattrs of a symlink, fifo or device in the upper dir are read
// through the descriptor of its directory (the walk's), and kept.
func TestDiffXattrsOfNonFiles(t *testing.T) {
	requireRoot(t)
	upper := t.TempDir()
	must(t, os.Mkdir(filepath.Join(upper, "d"), 0o755))
	l := filepath.Join(upper, "d", "l")
	must(t, os.Symlink("/etc/passwd", l))
	if err := unix.Lsetxattr(l, "trusted.note", []byte("on the link"), 0); err != nil {
		t.Skipf("this filesystem takes no trusted.* xattr on a symlink: %v", err)
	}
	var buf bytes.Buffer
	if _, err := Diff(upper, nil, &buf, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	_, ents := readTar(t, buf.Bytes())
	e, ok := ents["d/l"]
	if !ok {
		t.Fatalf("d/l missing from the diff")
	}
	if got := e.hdr.PAXRecords["SCHILY.xattr.trusted.note"]; got != "on the link" {
		t.Errorf("d/l's xattr = %q, want %q (records %v)", got, "on the link", e.hdr.PAXRecords)
	}
}
