package tui

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/strata-build/strata/layers"
)

// dumpTree is a tree in order, one node a line: what the pane can show of
// it (names, order, sums, marks).
func dumpTree(t *ftree) string {
	var b strings.Builder
	var walk func(n int32)
	walk = func(n int32) {
		nd := &t.nodes[n]
		fmt.Fprintf(&b, "%*s%s path=%s dir=%v mark=%v size=%d kinds=%v type=%v\n", nd.depth, "", nd.name, nd.path, nd.dir, nd.mark, nd.size, nd.kinds, nd.ch.Type)
		for _, c := range nd.children {
			if t.nodes[c].parent != n {
				b.WriteString("  wrong parent\n")
			}
			walk(c)
		}
	}
	walk(0)
	return b.String()
}

// TestBuildTreeAnyOrder: a list in the walk's order builds its tree
// without a map; the same list in any other order (a few entries moved,
// reversed, shuffled) builds the same tree, through sorted inserts or,
// far from order, the map.
func TestBuildTreeAnyOrder(t *testing.T) {
	small := []layers.Change{
		{Path: "/etc", Kind: layers.Modified, Type: layers.TypeDir, Mode: fs.ModeDir | 0o755},
		{Path: "/etc/b.conf", Kind: layers.Added, Type: layers.TypeRegular, Size: 3},
		{Path: "/etc/b.conf.d/x", Kind: layers.Added, Type: layers.TypeRegular, Size: 5},
		{Path: "/etc/c", Kind: layers.Deleted, Type: layers.TypeRegular, Size: 7},
		{Path: "/usr/bin/app", Kind: layers.Added, Type: layers.TypeRegular, Size: 11},
		{Path: "/usr/lib/", Kind: layers.Added, Type: layers.TypeDir},
		{Path: "/usr/lib/a.so", Kind: layers.Modified, Type: layers.TypeRegular, Size: 13},
		{Path: "var/./log/x", Kind: layers.Added, Type: layers.TypeRegular, Size: 17},
	}
	for _, tc := range []struct {
		name    string
		list    []layers.Change
		wantMap bool // far enough from order to take the map
	}{
		{"small", small, false},
		{"big", bigChanges(20_000), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sorted := buildTree(tc.list, nil)
			if sorted.byKey != nil {
				t.Errorf("a list in the walk's order took the map (%d moved)", sorted.moved)
			}
			want := dumpTree(sorted)
			if n := strings.Count(want, "\n"); n < len(tc.list) {
				t.Fatalf("%d nodes for %d entries:\n%s", n, len(tc.list), want)
			}
			moved := slices.Clone(tc.list)
			moved[0], moved[len(moved)-1] = moved[len(moved)-1], moved[0]
			reversed := slices.Clone(tc.list)
			slices.Reverse(reversed)
			shuffled := slices.Clone(tc.list)
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			for _, o := range []struct {
				name    string
				list    []layers.Change
				wantMap bool
			}{{"moved", moved, false}, {"reversed", reversed, tc.wantMap}, {"shuffled", shuffled, tc.wantMap}} {
				tr := buildTree(o.list, nil)
				if got := dumpTree(tr); got != want {
					t.Errorf("%s: tree differs from the ordered list's:\n%s\nwant:\n%s", o.name, firstDiff(got, want), want[:min(len(want), 2000)])
				}
				if (tr.byKey != nil) != o.wantMap {
					t.Errorf("%s: took the map %v (%d moved), want %v", o.name, tr.byKey != nil, tr.moved, o.wantMap)
				}
			}
			// laid over a whole listing, in either order
			over, rev := buildTree(tc.list, moved), buildTree(reversed, shuffled)
			if a, b := dumpTree(over), dumpTree(rev); a != b {
				t.Errorf("overlay: trees differ by order: %s", firstDiff(a, b))
			}
		})
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d: %q, want %q", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(la), len(lb))
}
