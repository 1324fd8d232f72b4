package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-build/strata/internal/recfile"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

// TestSumsFile: a set written as a sums file is named by the sha256 of its
// content, which is FileSums.Digest of the set (the cache key of the same
// content is the same as when the sums were a map), and holds the paths
// in byte order, later sums of a path replacing earlier ones, even across
// a sorter's spilled runs.
func TestSumsFile(t *testing.T) {
	dir := t.TempDir()
	set := FileSums{"/a": "d755", "/a.txt": "f644:1", "/a/b": "f644:2", "/é\n": "l../x"}
	for i := range 3 * recfile.RunSize {
		set[fmt.Sprintf("/big/%d", i)] = fmt.Sprintf("f644:%d", i)
	}
	s, err := set.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Digest != set.Digest() || s.Count != len(set) {
		t.Errorf("sums %s of %d paths, want the set's digest %s and %d paths", s.Digest, s.Count, set.Digest(), len(set))
	}
	b, err := os.ReadFile(filepath.Join(dir, s.Digest))
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != s.Digest {
		t.Error("the sums file's name is not the sha256 of its content")
	}
	if s.Top != "big" || s.TopCount != 3*recfile.RunSize {
		t.Errorf("top dir %q with %d paths, want big with %d", s.Top, s.TopCount, 3*recfile.RunSize)
	}
	// The last sum of a path wins, over spilled runs.
	w, err := NewSumsWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Add("/a.txt", "old")
	for k, v := range set {
		w.Add(k, v)
	}
	again, err := w.Finish()
	if err != nil || again.Digest != s.Digest {
		t.Errorf("a set written with a replaced sum: %v, %v; want digest %s", again, err, s.Digest)
	}
	prev := ""
	n := 0
	err = s.Each(func(p, sum string) error {
		if p <= prev && n > 0 {
			t.Fatalf("%q after %q: not in byte order", p, prev)
		}
		if set[p] != sum {
			t.Errorf("%s: %q, want %q", p, sum, set[p])
		}
		prev = p
		n++
		return nil
	})
	if err != nil || n != len(set) {
		t.Errorf("read back %d paths (%v), want %d", n, err, len(set))
	}
	assertOnly(t, dir, s.Digest)
}

// TestSumsDiff: the merge-join of two sums files names a changed, an
// added, a removed and a mode-changed file as the map diff did (changed
// first, then added, then removed, three named, the rest counted), and
// the unchanged set holds exactly the paths whose sum is the same.
func TestSumsDiff(t *testing.T) {
	dir := t.TempDir()
	write := func(f FileSums) *Sums {
		t.Helper()
		s, err := f.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old := write(FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:1", "/mode": "f644:m", "/gone": "f644:g", "/dir": "d755"})
	for _, tc := range []struct {
		name string
		cur  FileSums
		want string
	}{
		{"same", FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:1", "/mode": "f644:m", "/gone": "f644:g", "/dir": "d755"}, ""},
		{"changed", FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:2", "/mode": "f644:m", "/gone": "f644:g", "/dir": "d755"}, "file mod changed"},
		{"mode", FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:1", "/mode": "f755:m", "/gone": "f644:g", "/dir": "d755"}, "file mode changed"},
		{"added", FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:1", "/mode": "f644:m", "/gone": "f644:g", "/dir": "d755", "/dir/new": "f644:n"}, "file dir/new added"},
		{"removed", FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:1", "/mode": "f644:m", "/dir": "d755"}, "file gone removed"},
		{"all", FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:2", "/mode": "f600:m", "/dir": "d700", "/a": "x", "/b": "y"},
			"files dir, mod, mode changed (and 3 more)"},
		{"mixed", FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:2", "/mode": "f644:m", "/dir": "d755", "/a": "x"},
			"file mod changed; file a added; file gone removed"},
	} {
		cur := write(tc.cur)
		got, err := diffSums(old, cur)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q (%v), want %q", tc.name, got, err, tc.want)
		}
		u, err := UnchangedSums(old, cur, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		oldSet := FileSums{"/": "d755", "/keep": "f644:k", "/mod": "f644:1", "/mode": "f644:m", "/gone": "f644:g", "/dir": "d755"}
		n := 0
		// Asked in walk order, as an incremental COPY asks.
		for _, p := range slices.SortedFunc(maps.Keys(oldSet), recfile.Tree) {
			same := tc.cur[p] == oldSet[p]
			if got := u.Has(p); got != same {
				t.Errorf("%s: unchanged(%s) = %v, want %v", tc.name, p, got, same)
			}
			if same {
				n++
			}
		}
		if u.Len() != n || u.Has("/never") {
			t.Errorf("%s: %d unchanged, want %d", tc.name, u.Len(), n)
		}
		u.Close()
	}
	// A last build's list that is gone: the reason says so, never "no change".
	gone := &Sums{Digest: strings.Repeat("0", 64), dir: dir}
	if r := filesReason(gone, false, old); !strings.Contains(r, "cannot be read") {
		t.Errorf("reason with the last list gone: %q", r)
	}
	if r := filesReason(nil, true, old); !strings.Contains(r, "older strata") {
		t.Errorf("reason against an old record's inline sums: %q", r)
	}
}

// TestSumsCrashSafe: a sums file is never seen half-written: a writer
// given up, or one whose spilled data turns out truncated (a crash of the
// disk under it), leaves neither a file under a digest nor a temp file.
func TestSumsCrashSafe(t *testing.T) {
	dir := t.TempDir()
	w, err := NewSumsWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 * recfile.RunSize {
		w.Add(fmt.Sprintf("/f%d", i), "x")
	}
	w.Close()
	assertOnly(t, dir)

	w, _ = NewSumsWriter(dir)
	for i := range 2 * recfile.RunSize {
		w.Add(fmt.Sprintf("/f%d", i), "x")
	}
	des, _ := os.ReadDir(dir)
	if len(des) == 0 {
		t.Fatal("no run spilled")
	}
	run := filepath.Join(dir, des[0].Name())
	fi, _ := os.Stat(run)
	if err := os.Truncate(run, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	if s, err := w.Finish(); err == nil {
		t.Errorf("Finish over a truncated run: %+v, want an error", s)
	}
	assertOnly(t, dir)
	if err := w.Add("/a\x00b", "x"); err == nil {
		t.Error("a path with a NUL was taken")
	}
}

// TestPruneSums: prune keeps the sums files a stage record names and
// removes the rest, with what a crash left (temp files, runs, old JSON
// stat caches); prune --all removes them all.
func TestPruneSums(t *testing.T) {
	s := testutil.TempStore(t, layers.Open)
	l := Local{Store: s}
	dir := SumsDir(s.Root())
	kept, err := FileSums{"/a": "1"}.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	from, _ := FileSums{"/f": "2"}.Write(dir)
	orphan, _ := FileSums{"/b": "3"}.Write(dir)
	os.WriteFile(filepath.Join(dir, ".sums-123"), []byte("half"), 0o644)
	files := filepath.Join(Root(s), "files")
	os.MkdirAll(files, 0o755)
	os.WriteFile(filepath.Join(files, ".run-1"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(files, "old.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(files, "ctx.stat"), []byte(""), 0o644)
	l.SaveRecord(&StageRecord{Dockerfile: "/d/Dockerfile", Stage: "0", Steps: []RecordStep{
		{Inputs: Inputs{Text: "COPY . /", Files: kept}}, {Inputs: Inputs{Text: "COPY --from=x / /", FromFiles: from}}}})
	if _, err := Prune(s, PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, dir, kept.Digest, from.Digest)
	assertOnly(t, files, "ctx.stat")
	if _, err := os.Stat(filepath.Join(dir, orphan.Digest)); err == nil {
		t.Error("the orphan sums file is still there")
	}
	rec, _ := l.Record("/d/Dockerfile", "0")
	if rec == nil || rec.Steps[0].Files.Digest != kept.Digest {
		t.Fatalf("record read back: %+v", rec)
	}
	if err := rec.Steps[0].Files.Each(func(string, string) error { return nil }); err != nil {
		t.Errorf("the record's sums file cannot be read after prune: %v", err)
	}
	if _, err := Prune(s, PruneOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("prune --all left %s (%v)", dir, err)
	}
}

// assertOnly fails unless dir holds exactly names.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	des, _ := os.ReadDir(dir)
	var got []string
	for _, d := range des {
		got = append(got, d.Name())
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	if len(got) != len(names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
		return
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("%s holds %v, want %v", dir, got, names)
			return
		}
	}
}

// TestUnchangedCursor: the unchanged set is read as a forward cursor in
// walk order, spilled to disk past recfile.RunSize paths: every path asked
// in order is found, one asked behind the cursor is reported changed
// (copied, never wrongly linked), and Close removes what was spilled.
func TestUnchangedCursor(t *testing.T) {
	dir := t.TempDir()
	n := 3*recfile.RunSize + 17
	set := FileSums{}
	for i := range n {
		set[fmt.Sprintf("/d%03d/f%05d", i%97, i)] = fmt.Sprintf("f644:%d", i)
	}
	set["/d000.txt"] = "f644:x" // after /d000/... in walk order, before it in byte order
	write := func(fs FileSums) *Sums {
		sums, err := fs.Write(filepath.Join(dir, "sums"))
		if err != nil {
			t.Fatal(err)
		}
		return sums
	}
	old := write(set)
	changed := maps.Clone(set)
	changed["/d005/f00005"] = "f644:new"
	cur := write(changed)
	spill := filepath.Join(dir, "spill")
	if err := os.Mkdir(spill, 0o755); err != nil {
		t.Fatal(err)
	}
	u, err := UnchangedSums(old, cur, spill)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != len(set)-1 {
		t.Errorf("%d unchanged, want %d", u.Len(), len(set)-1)
	}
	paths := slices.SortedFunc(maps.Keys(set), recfile.Tree)
	for _, p := range paths {
		if got, want := u.Has(p), p != "/d005/f00005"; got != want {
			t.Fatalf("unchanged(%s) = %v, want %v", p, got, want)
		}
	}
	if u.Has(paths[0]) {
		t.Errorf("a path behind the cursor was reported unchanged")
	}
	u.Close()
	if _, err := os.Stat(spill); !os.IsNotExist(err) {
		t.Errorf("Close left %s (%v)", spill, err)
	}
}
