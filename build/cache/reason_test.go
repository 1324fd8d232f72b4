package cache

import (
	"strings"
	"testing"
)

// TestReason: each difference between the last build's step and this
// one is named, in the order the executor reports them.
func TestReason(t *testing.T) {
	sums := sumsIn(t)
	base := Inputs{Text: "RUN make", Canonical: "RUN make", Parent: "sha256:p", Args: map[string]string{"V": "1"}, ArgsKeyed: true,
		Env: []string{"A=1"}, Files: sums(FileSums{"/a": "x"})}
	rec := func(in Inputs) *StageRecord { return &StageRecord{Steps: []RecordStep{{Inputs: in, Key: in.Key()}}} }
	none := func(string) string { return "" }
	long := strings.Repeat("y", 100)
	for _, tc := range []struct {
		name string
		last *StageRecord
		seq  int
		in   func(*Inputs)
		miss func(string) string
		want string
	}{
		{name: "first", want: "first build"},
		{name: "uncacheable", last: rec(base), in: func(in *Inputs) { in.Uncacheable = "ADD x is fetched" }, want: "ADD x is fetched"},
		{name: "new step", last: rec(base), seq: 1, want: "new step (the last build had 1 step in this stage)"},
		{name: "stopped", last: &StageRecord{Stopped: true}, want: "not built before: the last build stopped before this step"},
		{name: "text", last: rec(base), in: func(in *Inputs) { in.Text = long }, want: "instruction changed (was: RUN make)"},
		{name: "text clipped", last: rec(Inputs{Text: long}), want: "instruction changed (was: " + strings.Repeat("y", 79) + "…)"},
		{name: "stage base", last: rec(base), in: func(in *Inputs) { in.Base, in.FromName = "stage:k", "b" }, want: "stage b was rebuilt"},
		{name: "image base", last: rec(base), in: func(in *Inputs) { in.Base, in.FromName = "image:sha256:0123456789abcdef", "alpine" },
			want: "base image alpine now resolves to sha256:0123456789ab (was )"},
		{name: "arg", last: rec(base), in: func(in *Inputs) { in.Args = map[string]string{"V": "2"} }, want: "build arg V changed: 1 → 2"},
		{name: "arg set", last: rec(base), in: func(in *Inputs) { in.Args = map[string]string{"V": "1", "W": "w"} }, want: "build arg W is now set (to w)"},
		{name: "arg unset", last: rec(base), in: func(in *Inputs) { in.Args = map[string]string{} }, want: "build arg V is no longer set (was 1)"},
		{name: "env", last: rec(base), in: func(in *Inputs) { in.Canonical, in.Env = "RUN make B", []string{"A=1", "B=2"} }, want: "ENV B changed"},
		{name: "expansion", last: rec(base), in: func(in *Inputs) { in.Canonical = "RUN make x" }, want: "instruction changed after expansion"},
		{name: "files", last: rec(base), in: func(in *Inputs) {
			in.Files = sums(FileSums{"/a": "z", "/b": "1", "/c": "1", "/d": "1"})
		}, want: "file a changed; files b, c added (and 1 more)"},
		{name: "from files", last: rec(base), in: func(in *Inputs) { in.FromFiles, in.FromName = sums(FileSums{"/f": "1"}), "src" }, want: "--from=src: file f added"},
		{name: "from", last: rec(base), in: func(in *Inputs) { in.From, in.FromName = "stage:x", "src" },
			want: "--from=src changed (its content is not the same as last build)"},
		{name: "parent", last: rec(base), in: func(in *Inputs) { in.Parent = "sha256:q" }, want: "an earlier step was rebuilt"},
		{name: "unfinished", last: &StageRecord{Steps: []RecordStep{{Inputs: base, Key: base.Key(), Unfinished: true}}},
			want: "the last build did not finish this step (it failed or was cancelled)"},
		{name: "pruned", last: rec(base), want: "not in cache any more (pruned, or its layer was removed)"},
		{name: "shared", last: rec(base), miss: func(k string) string { return "in reg, key " + k }, want: "in reg, key " + base.Key()},
	} {
		in := base
		in.Args = map[string]string{"V": "1"}
		if tc.in != nil {
			tc.in(&in)
		}
		miss := tc.miss
		if miss == nil {
			miss = none
		}
		if got := Reason(tc.last, tc.seq, &in, miss); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestHitNoteAndChangedFrom: a COPY --from hit whose source changed says
// its files did not; a changed instruction's reason keeps the old one whole.
func TestHitNoteAndChangedFrom(t *testing.T) {
	sums := sumsIn(t)
	last := &StageRecord{Steps: []RecordStep{{Inputs: Inputs{Text: "COPY --from=b / /", From: "stage:old"}}}}
	in := &Inputs{From: "stage:new", FromName: "b", FromFiles: sums(FileSums{})}
	if got, want := HitNote(last, 0, in), "stage b was rebuilt; the files copied from it are unchanged"; got != want {
		t.Errorf("HitNote = %q, want %q", got, want)
	}
	in.From = "image:x"
	if got, want := HitNote(last, 0, in), "image b changed; the files copied from it are unchanged"; got != want {
		t.Errorf("HitNote = %q, want %q", got, want)
	}
	if got := HitNote(last, 1, in); got != "" {
		t.Errorf("HitNote past the record = %q, want none", got)
	}
	if got := ChangedFrom(last, 0, "instruction changed (was: COPY …)"); got != "COPY --from=b / /" {
		t.Errorf("ChangedFrom = %q, want the last build's text whole", got)
	}
	if got := ChangedFrom(last, 0, "an earlier step was rebuilt"); got != "" {
		t.Errorf("ChangedFrom of another reason = %q, want none", got)
	}
}

// TestKeyInputs: a key changes with every input it is made of, and with
// the args only when the step sees them.
func TestKeyInputs(t *testing.T) {
	sums := sumsIn(t)
	base := Inputs{Canonical: "RUN x", Parent: "p", Args: map[string]string{"A": "1"}}
	seen := map[string]string{base.Key(): "base"}
	for name, f := range map[string]func(*Inputs){
		"canonical":  func(in *Inputs) { in.Canonical = "RUN y" },
		"parent":     func(in *Inputs) { in.Parent = "q" },
		"args keyed": func(in *Inputs) { in.ArgsKeyed = true },
		"files":      func(in *Inputs) { in.Files = sums(FileSums{"/a": "1"}) },
		"from":       func(in *Inputs) { in.From = "stage:s" },
		"from files": func(in *Inputs) { in.FromFiles = sums(FileSums{"/a": "1"}) },
		"base":       func(in *Inputs) { in.Base = "image:i" },
	} {
		in := base
		f(&in)
		k := in.Key()
		if prev, dup := seen[k]; dup {
			t.Errorf("%s: same key as %s", name, prev)
		}
		seen[k] = name
	}
	unkeyed := base
	unkeyed.Args = map[string]string{"A": "2"}
	if unkeyed.Key() != base.Key() {
		t.Error("an arg the step does not see changed its key")
	}
	if !strings.HasPrefix(base.Key(), "sha256:") || len(base.Key()) != 71 {
		t.Errorf("key %q is not a sha256 digest", base.Key())
	}
	if a, b := (FileSums{"/a": "1", "/b": "2"}).Digest(), (FileSums{"/b": "2", "/a": "1"}).Digest(); a != b {
		t.Error("FileSums digest depends on map order")
	}
	if got := Plural(2, "layer") + ", " + Plural(1, "layer"); got != "2 layers, 1 layer" {
		t.Errorf("Plural: %q", got)
	}
}

// sumsIn writes sets of checksums as sums files in a temp dir.
func sumsIn(t *testing.T) func(FileSums) *Sums {
	dir := t.TempDir()
	return func(f FileSums) *Sums {
		s, err := f.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}
