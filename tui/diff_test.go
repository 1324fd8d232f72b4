package tui

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	cases := []struct {
		a, b string
		want string
	}{
		{"a\nb\nc", "a\nb\nc", ""},
		{"a\nb\nc", "a\nx\nc", "@@ -1,3 +1,3 @@| a|-b|+x| c"},
		{"", "a\nb", "@@ -0,0 +1,2 @@|+a|+b"},
		{"a\nb", "", "@@ -1,2 +0,0 @@|-a|-b"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12", "1\n2\nX\n4\n5\n6\n7\n8\n9\n10\nY\n12",
			"@@ -1,6 +1,6 @@| 1| 2|-3|+X| 4| 5| 6|@@ -8,5 +8,5 @@| 8| 9| 10|-11|+Y| 12"},
	}
	for _, c := range cases {
		var parts []string
		for _, l := range unified(splitLines([]byte(c.a)), splitLines([]byte(c.b)), 3) {
			if l.op == '@' {
				parts = append(parts, l.text)
			} else {
				parts = append(parts, string(l.op)+l.text)
			}
		}
		if got := strings.Join(parts, "|"); got != c.want {
			t.Errorf("diff %q → %q:\n got %s\nwant %s", c.a, c.b, got, c.want)
		}
	}
	// the edit script is minimal on a classic example
	ops := lineEdits(strings.Split("ABCABBA", ""), strings.Split("CBABAC", ""))
	n := 0
	for _, o := range ops {
		if o != '=' {
			n++
		}
	}
	if n != 5 {
		t.Errorf("ABCABBA→CBABAC: %d edits (%s), want 5", n, ops)
	}
}
