package tui

import (
	"strings"
	"testing"

	"github.com/strata-build/strata/layers"
)

// TestDeletedFileQA: the File tab shows a deleted file's old lines as
// removed (they showed as "+" lines, as if added), and a deleted symlink
// as deleted (it showed "symbolic link →" and no target).
func TestDeletedFileQA(t *testing.T) {
	f := newFixture()
	s1 := f.snaps[1] // its parent has /etc/passwd
	head, rows := loadFile(f.be, s1, layers.Change{Path: "/etc/passwd", Kind: layers.Deleted, Type: layers.TypeRegular}, "", nil, "")
	if head != "deleted" {
		t.Errorf("head %q, want deleted", head)
	}
	var minus, plus int
	for _, r := range rows {
		switch r.op {
		case '-':
			minus++
			if r.text != "root:x:0:0:root:/root:/bin/sh" {
				t.Errorf("removed line %q", r.text)
			}
		case '+':
			plus++
		}
	}
	if minus != 1 || plus != 0 {
		t.Errorf("%d removed and %d added lines, want 1 and 0: %+v", minus, plus, rows)
	}
	head, rows = loadFile(f.be, s1, layers.Change{Path: "/bin/sh", Kind: layers.Deleted, Type: layers.TypeSymlink}, "", nil, "")
	if head != "deleted" || len(rows) == 0 || strings.Contains(rows[0].text, "→") {
		t.Errorf("deleted symlink: head %q rows %+v", head, rows)
	}
}
