package source

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStatCacheSavedAndReadBack: the stat cache, learnt in any order and
// saved, reads every entry back whichever order it is asked in (walk
// order, backwards, from several places at once); a second save keeps the
// entries it did not learn again and replaces the ones it did; nothing
// but the cache file is left in its directory.
func TestStatCacheSavedAndReadBack(t *testing.T) {
	root, ctx := t.TempDir(), t.TempDir()
	sc := OpenStatCache(root, ctx)
	want := map[string]statEntry{
		"/b":            {Size: 1, Mtime: 2, Ctime: 3, Ino: 4, Sum: strings.Repeat("ab", 32)},
		"/a/<&>\"é\x01": {Size: -1, Sum: strings.Repeat("cd", 32)},
		"/a":            {Sum: strings.Repeat("ef", 32)},
		"/a.txt":        {Size: 7, Sum: strings.Repeat("01", 32)},
		"/a/x/y":        {Ino: 9, Sum: strings.Repeat("23", 32)},
	}
	for i := range 20000 { // more than a sorter's run: spilled and merged
		want[fmt.Sprintf("/d/f%05d", i)] = statEntry{Size: int64(i), Sum: fmt.Sprintf("%064x", i)}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys) // byte order: not the walk order
	for _, k := range keys {
		sc.learn(k, want[k])
	}
	sc.Save()
	check := func(order []string) {
		t.Helper()
		cur := sc.cursor()
		defer cur.close()
		for _, k := range order {
			got, ok := cur.lookup(k)
			if !ok || got != want[k] {
				t.Fatalf("lookup %q = %+v, %v; want %+v", k, got, ok, want[k])
			}
		}
		if _, ok := cur.lookup("/nope"); ok {
			t.Fatal("found an entry never learnt")
		}
	}
	check(keys)
	rev := slices.Clone(keys)
	slices.Reverse(rev)
	check(rev[:300])

	// Learn again: one changed, one new; the rest stay.
	changed := statEntry{Size: 2, Sum: strings.Repeat("99", 32)}
	want["/b"], want["/c"] = changed, changed
	sc.learn("/c", changed)
	sc.learn("/b", changed)
	sc.Save()
	check(append(keys, "/c"))

	des, err := os.ReadDir(filepath.Dir(sc.file))
	if err != nil {
		t.Fatal(err)
	}
	if len(des) != 1 || des[0].Name() != filepath.Base(sc.file) {
		var names []string
		for _, d := range des {
			names = append(names, d.Name())
		}
		t.Errorf("left in the cache dir: %v, want only %s", names, filepath.Base(sc.file))
	}
}
