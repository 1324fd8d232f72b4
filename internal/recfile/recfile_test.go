package recfile

import (
	"fmt"
	"os"
	"slices"
	"testing"
)

// TestTreeOrder: Tree is the order of a walk that lists each directory
// sorted by name, parents first; Bytes is sort.Strings' order.
func TestTreeOrder(t *testing.T) {
	walk := []string{"/a", "/a/b", "/a/b/c", "/a/x", "/a-b", "/a.txt", "/b"}
	got := slices.Clone(walk)
	slices.Reverse(got)
	slices.SortFunc(got, Tree)
	if !slices.Equal(got, walk) {
		t.Errorf("Tree order %q, want the walk's %q", got, walk)
	}
	slices.SortFunc(got, Bytes)
	if want := []string{"/a", "/a-b", "/a.txt", "/a/b", "/a/b/c", "/a/x", "/b"}; !slices.Equal(got, want) {
		t.Errorf("Bytes order %q, want %q", got, want)
	}
}

// TestSorterManyRuns: more runs than are merged at once are merged in
// passes; every key comes once, in order, with its last value; the runs
// are removed.
func TestSorterManyRuns(t *testing.T) {
	dir := t.TempDir()
	s := &Sorter{Dir: dir, Cmp: Bytes}
	n := (maxFanIn + 2) * RunSize
	for i := range n {
		if err := s.Add(Record{Key: fmt.Sprintf("k%07d", (i*7919)%n), Value: "old"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Add(Record{Key: "k0000001", Value: "new"})
	i := 0
	err := s.Each(func(r Record) error {
		if want := fmt.Sprintf("k%07d", i); r.Key != want {
			return fmt.Errorf("record %d is %q, want %q", i, r.Key, want)
		}
		if want := map[bool]string{true: "new", false: "old"}[i == 1]; r.Value != want {
			return fmt.Errorf("%s = %q, want %q", r.Key, r.Value, want)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Errorf("%d records (%v), want %d", i, err, n)
	}
	s.Close()
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("%d files left in %s", len(des), dir)
	}
}
