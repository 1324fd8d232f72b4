package build

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// A hit from a plain --cache-from image has no recorded size: while its
// layer is still in the image, the step_cached event says so (remote,
// where, the compressed size) and has no size or files; once the layer
// is stored, they are the stored layer's.
func TestClassicHitSizeNotKnown(t *testing.T) {
	store := newStore(t)
	var got []event.StepCached
	e := &Executor{Store: store, Observe: func(ev event.Event) {
		if c, ok := ev.(event.StepCached); ok {
			got = append(got, c)
		}
	}}
	hit := func(d v1.Hash) event.StepCached {
		t.Helper()
		got = nil
		cfg := &v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{d}}}
		st := &stageState{cfg: cfg}
		e.applyCached(st, 0, &cache.Inputs{Text: "RUN x"}, "k", &cache.Entry{Config: cfg, DiffID: d.String()}, "from reg/app:plain")
		if len(got) != 1 {
			t.Fatalf("%d step_cached events, want 1", len(got))
		}
		return got[0]
	}

	remote := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	store.AddRemote(layers.RemoteLayer{DiffID: remote, Digest: remote, CompressedSize: 123456, Source: "reg/app:plain"})
	ev := hit(remote)
	if ev.Remote == nil || ev.Remote.Source != "reg/app:plain" || ev.Remote.CompressedSize != 123456 {
		t.Fatalf("remote hit: Remote = %+v, want reg/app:plain, 123456 compressed", ev.Remote)
	}
	b, err := event.MarshalEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if _, ok := m["size"]; ok {
		t.Errorf("remote hit: the JSON has a size: %s", b)
	}
	if _, ok := m["files"]; ok {
		t.Errorf("remote hit: the JSON has files: %s", b)
	}
	if r, _ := m["remote"].(map[string]any); r["source"] != "reg/app:plain" || r["compressed_size"] != 123456.0 {
		t.Errorf("remote hit: the JSON's remote is %v: %s", m["remote"], b)
	}

	// The layer stored (downloaded, or kept from an earlier build): its
	// size and files, not 0.
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for _, f := range []string{"etc/a", "etc/b"} {
		tw.WriteHeader(&tar.Header{Name: f, Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
		tw.Write([]byte("hello"))
	}
	tw.Close()
	meta, err := store.ImportLayer(bytes.NewReader(tarball.Bytes()), v1.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	ev = hit(meta.DiffID)
	if ev.Remote != nil || ev.Size != meta.Size || ev.Size == 0 || ev.Files != 2 {
		t.Errorf("stored layer: size %d, files %d, remote %+v; want the layer's %d bytes, its 2 files, not remote", ev.Size, ev.Files, ev.Remote, meta.Size)
	}
	b, _ = event.MarshalEvent(ev)
	if !strings.Contains(string(b), `"size":`) || strings.Contains(string(b), `"remote"`) {
		t.Errorf("stored layer: JSON %s", b)
	}
}
