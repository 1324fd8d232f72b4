package cache

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in     string
		export bool
		want   Spec
		err    string
	}{
		{in: "type=registry,ref=127.0.0.1:5000/app:cache,mode=max", export: true, want: Spec{Type: "registry", Ref: "127.0.0.1:5000/app:cache", Mode: "max"}},
		{in: "127.0.0.1:5000/app:1", want: Spec{Type: "registry", Ref: "127.0.0.1:5000/app:1", Mode: "min"}},
		{in: "type=local,dest=/tmp/c", export: true, want: Spec{Type: "local", Dir: "/tmp/c", Mode: "min"}},
		{in: "type=local,src=/tmp/c", want: Spec{Type: "local", Dir: "/tmp/c", Mode: "min"}},
		{in: "type=inline", export: true, want: Spec{Type: "inline", Mode: "min"}},
		{in: "type=inline,mode=max", export: true, err: "type=inline holds the final stage's steps only"},
		{in: "type=inline", err: "an inline cache is read from the image"},
		{in: "type=local", export: true, err: "type=local needs dest=DIR"},
		{in: "type=registry", err: "type=registry needs ref="},
		{in: "type=registry,ref=x,mode=all", err: "mode=all: want min"},
		{in: "type=s3,bucket=b", err: `unknown key "bucket"`},
		{in: "type=gha", err: "type=gha: want registry, local or inline"},
		{in: "mode=max", err: "missing type="},
	} {
		got, err := ParseSpec("--cache-x", tc.in, tc.export)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestValidEntry: an entry is data; a key that is not a digest, a layer
// the document does not list, or a diffID not among its config's layers
// makes it unusable.
func TestValidEntry(t *testing.T) {
	l := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	s := testutil.TempStore(t, layers.Open)
	ok := func(key string, diffIDs []v1.Hash, diffID string) bool {
		cfg := &v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}}
		return validEntry(&Entry{Key: key, Config: cfg, DiffID: diffID}, map[v1.Hash]bool{l: true}, s)
	}
	key := "sha256:" + strings.Repeat("c", 64)
	if !ok(key, []v1.Hash{l}, l.String()) {
		t.Error("a good entry is refused")
	}
	for name, bad := range map[string]bool{
		"path as key":      ok("../../etc/passwd", []v1.Hash{l}, ""),
		"short key":        ok("sha256:abc", []v1.Hash{l}, ""),
		"unlisted layer":   ok(key, []v1.Hash{l, other}, ""),
		"foreign diffID":   ok(key, []v1.Hash{l}, other.String()),
		"diffID not a sum": ok(key, []v1.Hash{l}, "../x"),
	} {
		if bad {
			t.Errorf("%s: accepted", name)
		}
	}
}
