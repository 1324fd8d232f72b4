package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestWriteChangesAsMarshal: the change list written one entry at a time
// is byte for byte what json.Marshal of the whole list was (stores keep
// reading the ones written before), and reads back equal.
func TestWriteChangesAsMarshal(t *testing.T) {
	lists := [][]Change{
		{},
		{{Path: "/a", Kind: Added, Type: TypeRegular, Size: 3, Mode: 0o644, ModTime: time.Unix(1700000000, 5).UTC()}},
		{
			{Path: "/d", Kind: Modified, Type: TypeDir, Mode: 0o755 | 1<<31, Opaque: true},
			{Path: "/d/<&>\"é\x01", Kind: Added, Type: TypeSymlink, Linkname: "../x<y>", UID: 1000, GID: 1000},
			{Path: "/gone", Kind: Deleted},
			{Path: "/h", Kind: Added, Type: TypeHardlink, Linkname: "/a", UID: -1},
		},
	}
	for i, l := range lists {
		file := filepath.Join(t.TempDir(), "changes.json")
		if err := writeChanges(file, l); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(l)
		if string(got) != string(want) {
			t.Errorf("list %d written as\n%s\nwant json.Marshal's\n%s", i, got, want)
		}
		var back []Change
		if err := json.Unmarshal(got, &back); err != nil || len(back) != len(l) {
			t.Errorf("list %d reads back as %d entries (%v), want %d", i, len(back), err, len(l))
		}
	}
}

// TestDiffLayerStreamsChanges: DiffLayer writes the change list to
// changes.json as it diffs (the list Diff returns, in its order) and keeps
// only its counts; CommitLayer moves the file into the store, where
// LayerChanges reads it back, and records the counts in the layer's meta.
func TestDiffLayerStreamsChanges(t *testing.T) {
	upper := t.TempDir()
	writeFile(t, upper+"/app/main", "main", 0o755)
	writeFile(t, upper+"/app/conf/a.conf", "a=1\n", 0o644)
	must(t, os.Symlink("main", upper+"/app/link"))
	var buf bytes.Buffer
	want, err := Diff(upper, nil, &buf, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pl, err := DiffLayer(upper, nil, dir, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Files != len(want) || pl.Stats != Stats(want) {
		t.Errorf("pending layer counts %d files %+v, want %d %+v", pl.Files, pl.Stats, len(want), Stats(want))
	}
	b, err := os.ReadFile(pl.ChangesFile)
	if err != nil {
		t.Fatal(err)
	}
	if wb, _ := json.Marshal(want); string(b) != string(wb) {
		t.Errorf("changes.json is\n%s\nwant\n%s", b, wb)
	}
	m, err := s.CommitLayer(pl)
	if err != nil {
		t.Fatal(err)
	}
	if m.Files != len(want) || m.Stats == nil || *m.Stats != Stats(want) {
		t.Errorf("layer meta %+v, want %d files and stats %+v", m, len(want), Stats(want))
	}
	if _, err := os.Stat(filepath.Join(dir, "changes.json")); !os.IsNotExist(err) {
		t.Errorf("pending changes.json left in scratch (%v)", err)
	}
	got, err := s.LayerChanges(m.DiffID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("store reads %d changes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Path != want[i].Path || got[i].Kind != want[i].Kind || got[i].Size != want[i].Size {
			t.Errorf("change %d reads back as %+v, want %+v", i, got[i], want[i])
		}
	}
	if back, err := s.Layer(m.DiffID); err != nil || back.Stats == nil || *back.Stats != *m.Stats {
		t.Errorf("meta.json reads back as %+v (%v), want stats %+v", back, err, *m.Stats)
	}
	// A cache hit counts the list without reading it (LayerStats): from
	// meta.json, and for a layer stored before meta.json had counts, from
	// changes.json read entry by entry.
	if st, n, err := s.LayerStats(m.DiffID); err != nil || n != len(want) || st != Stats(want) {
		t.Errorf("LayerStats = %+v, %d, %v; want %+v, %d", st, n, err, Stats(want), len(want))
	}
	old := m
	old.Stats = nil
	if err := s.writeLayerMeta(old); err != nil {
		t.Fatal(err)
	}
	if st, n, err := s.LayerStats(m.DiffID); err != nil || n != len(want) || st != Stats(want) {
		t.Errorf("LayerStats of a layer without counts in meta.json = %+v, %d, %v; want %+v, %d", st, n, err, Stats(want), len(want))
	}
}

// TestEachChangeAsEncodingJSON: the change list reader strata uses for its
// own changes.json reads what encoding/json reads (escapes, negative ids,
// opaque, times with nanoseconds and zones), and LayerChanges falls back
// to encoding/json for a file in another form (white space, an unknown
// key), or fails as it does.
func TestEachChangeAsEncodingJSON(t *testing.T) {
	list := []Change{
		{Path: "/d", Kind: Modified, Type: TypeDir, Mode: 0o755 | 1<<31, Opaque: true, ModTime: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)},
		{Path: "/d/<&>\"é\x01\\", Kind: Added, Type: TypeSymlink, Linkname: "../x<y>", UID: 1000, GID: 1000, ModTime: time.Unix(1700000000, 0).In(time.FixedZone("x", 3600))},
		{Path: "/gone", Kind: Deleted},
		{Path: "/h", Kind: Added, Type: TypeHardlink, Linkname: "/a", UID: -1, GID: -2},
		{Path: "/big", Kind: Added, Type: TypeRegular, Size: 1 << 40, Mode: 0o4755},
		{Path: "/huge", Kind: Added, Type: TypeRegular, Size: 1<<63 - 1, Mode: 1<<32 - 1, UID: -1 << 40}, // past 18 digits: strconv
		{Path: "/" + strings.Repeat("p", 300<<10), Kind: Added},                                          // longer than the reader's buffer
		{Path: "/" + strings.Repeat("q", 300<<10) + "\"\\", Kind: Added, Linkname: "\\"},                 // and escaped
	}
	b, _ := json.Marshal(list)
	var want []Change
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	var got []Change
	if err := eachChange(bytes.NewReader(b), func(c *Change) error { got = append(got, *c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d changes, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("change %d reads as %+v, encoding/json's %+v", i, got[i], want[i])
		}
	}
	for _, in := range []string{"[]", " [ ] "} {
		n := 0
		if err := eachChange(strings.NewReader(in), func(*Change) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("%q: %d changes, %v", in, n, err)
		}
	}
	for _, bad := range []string{"", "[", `[{"path":"/a"}`, `[{"path":"/a",}]`, `[{"nope":1}]`, `[{"path":null}]`, `{"path":"/a"}`, `[{"kind":999}]`, `[{"kind":256}]`, `[{"kind":-1}]`, `[{"size":99999999999999999999}]`, `[{"mode":4294967296}]`} {
		if err := eachChange(strings.NewReader(bad), func(*Change) error { return nil }); err == nil {
			t.Errorf("%q read without error", bad)
		}
	}

	// LayerChanges: a list in another form is read by encoding/json.
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	must(t, os.MkdirAll(s.layerDir(d), 0o755))
	for in, wantN := range map[string]int{
		"[\n  {\"path\": \"/a\", \"kind\": 1, \"extra\": [1, 2]}\n]": 1,
		string(b): len(list),
	} {
		must(t, os.WriteFile(filepath.Join(s.layerDir(d), "changes.json"), []byte(in), 0o644))
		c, err := s.LayerChanges(d)
		if err != nil || len(c) != wantN || c[0].Path == "" {
			t.Errorf("LayerChanges of %q: %d changes %v, want %d", in, len(c), err, wantN)
		}
	}
	must(t, os.WriteFile(filepath.Join(s.layerDir(d), "changes.json"), []byte(`[{"path":`), 0o644))
	if _, err := s.LayerChanges(d); err == nil {
		t.Error("a cut change list read without error")
	}
}

// TestUTCTimeAsTimeParse: the list's UTC times are read without
// time.Parse, to the same time; what is not in that form (or is out of
// range) is left to time.Parse, which reads or refuses it.
func TestUTCTimeAsTimeParse(t *testing.T) {
	fast := []string{
		"0001-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-02-29T23:59:59.999999999Z",
		"2026-12-03T18:20:10.1Z", "2026-12-03T18:20:10.120Z", "1970-01-01T00:00:00.000000001Z", "9999-12-31T23:59:59.5Z",
	}
	for i := range 200 {
		ts := time.Unix(int64(i)*7919_3571, int64(i)*4_999_999%1e9).UTC()
		fast = append(fast, ts.Format(time.RFC3339Nano))
	}
	other := []string{
		"2023-02-29T00:00:00Z", "2024-01-32T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z",
		"2024-01-01T00:00:60Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567891Z", "2024-01-01T00:00:00,5Z",
		"2024-01-01T00:00:00z", "2024-01-01T00:00:00+01:00", "2024-01-01t00:00:00Z", "2024-01-01T00:00:00", "-024-01-01T00:00:00Z",
		"2024-1-01T00:00:00Z", "2024-01-01T00:00:0xZ", "2024-01-01T00:00:00.12a4Z", "",
	}
	for _, s := range fast {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := utcTime([]byte(s))
		if err != nil || !ok || got != want {
			t.Errorf("%q: utcTime %v %v, time.Parse %v %v", s, got, ok, want, err)
		}
	}
	for _, s := range other {
		if got, ok := utcTime([]byte(s)); ok {
			t.Errorf("%q: utcTime read it as %v, want it left to time.Parse", s, got)
		}
	}
	// through the decoder, either way (the zone: time.Parse)
	list := []Change{{Path: "/a", ModTime: time.Date(2026, 12, 3, 18, 20, 10, 123456789, time.UTC)}, {Path: "/b", ModTime: time.Date(2026, 12, 3, 18, 20, 10, 0, time.FixedZone("", -7*3600))}}
	b, _ := json.Marshal(list)
	var want []Change
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	var got []Change
	if err := eachChange(bytes.NewReader(b), func(c *Change) error { got = append(got, *c); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, encoding/json reads %+v", got, want)
	}
	if err := eachChange(strings.NewReader(`[{"mtime":"2023-02-29T00:00:00Z"}]`), func(*Change) error { return nil }); err == nil {
		t.Error("2023-02-29 read without error")
	}
}

// BenchmarkEachChange reads a list of 200,000 files as a COPY writes it
// (paths, modes, sizes, mtimes to the nanosecond): the Files tab of a step
// waits for this.
func BenchmarkEachChange(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	t0 := time.Date(2026, 12, 3, 18, 20, 10, 0, time.UTC)
	const n = 200_000
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		c := Change{Path: fmt.Sprintf("/data/d%03d/f%03d", i/200, i%200), Kind: Added, Type: TypeRegular, Size: 203, Mode: 0o644, ModTime: t0.Add(time.Duration(i) * 1234567)}
		j, _ := json.Marshal(&c)
		buf.Write(j)
	}
	buf.WriteByte(']')
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for range b.N {
		got := 0
		if err := eachChange(bytes.NewReader(buf.Bytes()), func(*Change) error { got++; return nil }); err != nil || got != n {
			b.Fatal(got, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
}

// TestEachChangeAsChangeList: Store.EachChange gives the entries
// ChangeList reads, one at a time: of a list in strata's form, of one
// that leaves it part way (what encoding/json reads, each entry once), and
// stops at fn's error; a cut list is an error either way.
func TestEachChangeAsChangeList(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	must(t, os.MkdirAll(s.layerDir(d), 0o755))
	for _, in := range []string{
		`[{"path":"/a","kind":1},{"path":"/b","kind":2,"size":3},{"path":"/c","kind":3}]`,
		`[{"path":"/a","kind":1},{"path":"/b","kind":2,"size":3}, {"path": "/c", "kind": 3, "extra": [1]}]`, // leaves strata's form at /c
		`[ {"path":"/a"} ]`,
		`[]`,
	} {
		must(t, os.WriteFile(filepath.Join(s.layerDir(d), "changes.json"), []byte(in), 0o644))
		want, err := s.ChangeList(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []Change
		if err := s.EachChange(d, nil, func(c *Change) error { got = append(got, *c); return nil }); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: EachChange gave %+v, ChangeList %+v", in, got, want)
		}
		stop := errors.New("stop")
		n := 0
		if err := s.EachChange(d, nil, func(*Change) error { n++; return stop }); err != stop || n != 1 {
			t.Errorf("%s: fn's error: %v after %d entries, want it after 1", in, err, n)
		}
	}
	must(t, os.WriteFile(filepath.Join(s.layerDir(d), "changes.json"), []byte(`[{"path":"/a"},{"path":`), 0o644))
	if err := s.EachChange(d, nil, func(*Change) error { return nil }); err == nil {
		t.Error("a cut change list read without error")
	}
}
