package cache

import (
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

// TestLocalEntriesAndRecords: an entry is found by its key while its
// layers are stored, listed with its file; a record reads back as saved;
// a corrupt file is no entry and no record.
func TestLocalEntriesAndRecords(t *testing.T) {
	l := Local{Store: testutil.TempStore(t, layers.Open)}
	key := "sha256:" + strings.Repeat("1", 64)
	if _, ok := l.Lookup(key); ok {
		t.Fatal("hit in an empty cache")
	}
	if err := l.Save(&Entry{Key: key, Step: "RUN x", Config: &v1.ConfigFile{}}); err != nil {
		t.Fatal(err)
	}
	if ent, ok := l.Lookup(key); !ok || ent.Step != "RUN x" {
		t.Errorf("Lookup after Save: %+v, %v", ent, ok)
	}
	missing := "sha256:" + strings.Repeat("2", 64)
	layer := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("3", 64)}
	cfg := &v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layer}}}
	if err := l.Save(&Entry{Key: missing, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Lookup(missing); ok {
		t.Error("Lookup hit an entry whose layer is not stored")
	}
	if l.Entry(missing) == nil {
		t.Error("Entry: the recorded entry of a missing layer is not returned")
	}
	bad := "sha256:" + strings.Repeat("4", 64)
	if err := os.WriteFile(l.KeyFile(bad), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l.Entry(bad) != nil {
		t.Error("a corrupt entry file read as an entry")
	}
	files, err := Entries(l.Store)
	if err != nil || len(files) != 3 {
		t.Fatalf("Entries: %d files, %v; want 3", len(files), err)
	}
	unreadable := 0
	for _, f := range files {
		if f.Entry == nil {
			unreadable++
		}
	}
	if unreadable != 1 {
		t.Errorf("%d unreadable entries listed, want 1", unreadable)
	}

	if r, found := l.Record("/ctx/Dockerfile", "0"); found || r != nil {
		t.Errorf("record before any build: %+v, %v", r, found)
	}
	l.SaveRecord(NewRecord("/ctx/Dockerfile", "0", []RecordStep{{Key: key}}, nil, nil, 1))
	r, found := l.Record("/ctx/Dockerfile", "0")
	if !found || r == nil || len(r.Steps) != 1 || r.Steps[0].Key != key || r.Stopped {
		t.Errorf("record read back: %+v, %v", r, found)
	}
	if r, found := l.Record("/ctx/Dockerfile", "1"); found || r != nil {
		t.Errorf("another stage's record: %+v, %v", r, found)
	}
}

// TestNewRecord: a build that stopped records the step it stopped at as
// unfinished and keeps the last build's steps past it.
func TestNewRecord(t *testing.T) {
	last := &StageRecord{Steps: []RecordStep{{Key: "a"}, {Key: "b"}, {Key: "c"}, {Key: "d"}}}
	r := NewRecord("Dockerfile", "0", []RecordStep{{Key: "a"}}, &RecordStep{Key: "x"}, last, 4)
	var keys []string
	for _, s := range r.Steps {
		keys = append(keys, s.Key)
	}
	if strings.Join(keys, ",") != "a,x,c,d" || !r.Steps[1].Unfinished || r.Steps[0].Unfinished || r.Stopped {
		t.Errorf("record %+v, want a, x unfinished, then the last build's c, d", r.Steps)
	}
	r = NewRecord("Dockerfile", "0", []RecordStep{{Key: "a"}}, nil, nil, 4)
	if !r.Stopped || len(r.Steps) != 1 {
		t.Errorf("first build stopped after 1 of 4 steps: %+v", r)
	}
}

// TestUnprovable: a plain image cannot prove a step that reads files.
func TestUnprovable(t *testing.T) {
	im := &ClassicImage{Source: "reg/app:1"}
	for df, want := range map[string]string{
		"COPY a /a":                            "has no checksum for COPY",
		"ADD a /a":                             "has no checksum for ADD",
		"RUN --mount=type=bind,target=/s true": "has no checksum for RUN --mount=type=bind",
		"RUN true":                             "",
		"ENV A=1":                              "",
	} {
		res, err := parser.Parse(strings.NewReader(df))
		if err != nil {
			t.Fatal(err)
		}
		c, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			t.Fatal(err)
		}
		got := im.Unprovable(c)
		if (want == "") != (got == "") || !strings.Contains(got, want) || (got != "" && !strings.Contains(got, "cache-from reg/app:1")) {
			t.Errorf("%s: %q, want one containing %q", df, got, want)
		}
	}
}
