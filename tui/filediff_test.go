package tui

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// bigFiles is a backend with one path in a parent and a child snapshot.
func bigFiles(old, cur []byte) (*fakeBackend, *event.Snapshot) {
	be := newFakeBackend()
	s0 := &event.Snapshot{Step: 0}
	s1 := &event.Snapshot{Step: 1, Parent: s0}
	be.files[s0] = map[string][]byte{"/f": old}
	be.files[s1] = map[string][]byte{"/f": cur}
	return be, s1
}

func rowsText(rows []fileRow) string {
	var b strings.Builder
	for _, r := range rows {
		if r.op == 'i' || r.op == 'x' {
			b.WriteString(r.text)
		} else {
			b.WriteString(string(r.op) + r.text)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// A chmod 600 of a 1.5 MB binary changes no content: the File tab says so,
// decided by the size and digest of the whole files, not a 1 MB prefix.
func TestFileCompareChmodOfBigBinary(t *testing.T) {
	bin := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0, 1, 2, 3}, 1_500_000/4)...)
	be, s1 := bigFiles(bin, bin)
	ch := layers.Change{Path: "/f", Kind: layers.Modified, Type: layers.TypeRegular, Size: int64(len(bin)), Mode: 0o600}
	head, rows := loadFile(be, s1, ch, "step", nil, "")
	out := rowsText(rows)
	if !strings.Contains(out, "content unchanged") || !strings.Contains(out, "only metadata changed") || strings.Contains(out, "binary file changed") {
		t.Fatalf("head %q, rows:\n%s", head, out)
	}
	if !strings.Contains(out, "1.5 MB, 1500007 bytes") || !strings.Contains(out, "digest sha256:") {
		t.Errorf("the size and digest that decided it are not shown:\n%s", out)
	}

	// the same size but a byte changed past the first megabyte: changed
	cur := bytes.Clone(bin)
	cur[1_400_000] ^= 0xff
	be, s1 = bigFiles(bin, cur)
	_, rows = loadFile(be, s1, ch, "step", nil, "")
	out = rowsText(rows)
	if !strings.Contains(out, "binary file changed: 1.5 MB → 1.5 MB (same size, sha256 ") {
		t.Errorf("a change past 1 MB:\n%s", out)
	}
}

// A 2 MB text file with a line appended (or a line changed at its end,
// same size) shows the hunk where it is, numbered in the whole file, and
// says how many unchanged lines it left out.
func TestFileCompareBigTextChangedAtTheEnd(t *testing.T) {
	var b strings.Builder
	n := 0
	for b.Len() < 2_000_000 {
		n++
		fmt.Fprintf(&b, "line %07d of a big text file\n", n)
	}
	old := []byte(b.String())
	ch := layers.Change{Path: "/f", Kind: layers.Modified, Type: layers.TypeRegular, Mode: 0o644}

	cur := append(bytes.Clone(old), "appended at the end\n"...)
	ch.Size = int64(len(cur))
	be, s1 := bigFiles(old, cur)
	_, rows := loadFile(be, s1, ch, "step", nil, "")
	out := rowsText(rows)
	want := fmt.Sprintf("@@ -%d,3 +%d,4 @@\n line %07d of a big text file\n line %07d of a big text file\n line %07d of a big text file\n+appended at the end\n", n-2, n-2, n-2, n-1, n)
	if !strings.Contains(out, want) {
		t.Fatalf("want the hunk at the end:\n%s\ngot:\n%s", want, out)
	}
	if !strings.Contains(out, fmt.Sprintf("1 changed region (2.0 MB → 2.0 MB); %s left out", plural(n-3, "unchanged line"))) {
		t.Errorf("how much was left out is not said:\n%s", out)
	}

	// same size, last line changed
	cur = bytes.Clone(old)
	copy(cur[len(cur)-len("big text file\n"):], "BIG TEXT FILE\n")
	ch.Size = int64(len(cur))
	be, s1 = bigFiles(old, cur)
	_, rows = loadFile(be, s1, ch, "step", nil, "")
	out = rowsText(rows)
	if !strings.Contains(out, fmt.Sprintf("-line %07d of a big text file\n+line %07d of a BIG TEXT FILE\n", n, n)) {
		t.Errorf("a change at the end of a same-size file:\n%s", out)
	}
}

// The real backend streams whole files (checked here through the
// interface the File tab uses).
func TestFileOpenerFallback(t *testing.T) {
	be, s1 := bigFiles([]byte("a\n"), []byte("a\nb\n"))
	r, n, err := openFile(be, s1, "/f")
	if err != nil || n != 4 {
		t.Fatalf("open: %d %v", n, err)
	}
	r.Close()
	if _, _, err := openFile(be, s1, "/nope"); err == nil || !strings.Contains(err.Error(), fs.ErrNotExist.Error()) {
		t.Errorf("absent file: %v", err)
	}
}
