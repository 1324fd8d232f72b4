package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
)

// remoteLayer pushes a layer of files to an in-process registry and makes
// it known to s as a remote layer (as --cache-from does): it returns its
// diffID.
func remoteLayer(t *testing.T, s *layers.Store, files map[string]string) v1.Hash {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range []string{"etc/", "etc/app.conf", "usr/", "usr/bin/", "usr/bin/app"} {
		if strings.HasSuffix(p, "/") {
			tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeDir, Mode: 0o755})
			continue
		}
		tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[p]))})
		tw.Write([]byte(files[p]))
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://")+"/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(repo, l); err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	diffID, _ := l.DiffID()
	size, _ := l.Size()
	mt, _ := l.MediaType()
	rl, err := remote.Layer(repo.Digest(d.String()))
	if err != nil {
		t.Fatal(err)
	}
	s.AddRemote(layers.RemoteLayer{DiffID: diffID, Digest: d, CompressedSize: size, Size: int64(len(b)), MediaType: mt, Blob: rl, Source: repo.String() + ":cache"})
	return diffID
}

// TestRemoteStepChanges: a cached step whose layer is still in a registry
// lists its real files once the Backend has downloaded it, with progress
// up to the layer's size; the whole tree has them too.
func TestRemoteStepChanges(t *testing.T) {
	s, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := remoteLayer(t, s, map[string]string{"etc/app.conf": "port 80\n", "usr/bin/app": "#!/bin/sh\necho hi\n"})
	b := NewBackend(s, nil)
	snap := &event.Snapshot{Layers: []v1.Hash{d}, DiffID: d, Config: &v1.ConfigFile{}}
	rls := b.RemoteLayers(snap)
	if len(rls) != 1 || rls[0].DiffID != d {
		t.Fatalf("RemoteLayers = %+v, want the layer %s", rls, d)
	}
	var last FetchProgress
	calls := 0
	if err := b.FetchLayers(snap, func(p FetchProgress) { last = p; calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls < 2 || last.Done != rls[0].Size || last.Layers != 1 {
		t.Errorf("progress: %d calls, last %+v; want the last at %d bytes", calls, last, rls[0].Size)
	}
	if !strings.Contains(last.String(), "downloading layer "+short(d)+" from ") {
		t.Errorf("progress text %q", last.String())
	}
	if got := b.RemoteLayers(snap); len(got) != 0 {
		t.Errorf("still remote after the download: %+v", got)
	}
	ch, err := b.StepChanges(snap)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ch {
		got = append(got, fmt.Sprintf("%s %s", c.Kind, c.Path))
	}
	want := []string{"added /etc", "added /etc/app.conf", "added /usr", "added /usr/bin", "added /usr/bin/app"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("StepChanges = %q, want %q", got, want)
	}
	data, err := b.ReadFile(snap, "/etc/app.conf", 100)
	if err != nil || string(data) != "port 80\n" {
		t.Errorf("ReadFile = %q, %v", data, err)
	}
}

// TestRemoteLayerGone: a layer whose blob the registry lost is an error
// naming it, for the change list, the tree and a file; never an empty list.
func TestRemoteLayerGone(t *testing.T) {
	s, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := remoteLayer(t, s, map[string]string{"etc/app.conf": "x"})
	rl, _ := s.Remote(d)
	rl.Blob = nil
	s.DropRemote(d)
	bad := rl
	bad.Digest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	ref, _ := name.NewDigest(strings.TrimSuffix(rl.Source, ":cache") + "@" + bad.Digest.String())
	bad.Blob, _ = remote.Layer(ref)
	s.AddRemote(bad)
	b := NewBackend(s, nil)
	snap := &event.Snapshot{Layers: []v1.Hash{d}, DiffID: d, Config: &v1.ConfigFile{}}
	if ch, err := b.StepChanges(snap); err == nil || !strings.Contains(err.Error(), "could not be downloaded from") {
		t.Errorf("StepChanges = %v, %v; want an error naming the download", ch, err)
	}
	if _, err := b.Tree(snap); err == nil {
		t.Error("Tree of a lost layer: no error")
	}
	if _, err := b.ReadFile(snap, "/etc/app.conf", 10); err == nil {
		t.Error("ReadFile of a lost layer: no error")
	}
	if s.HasLayer(d) {
		t.Error("a failed download left the layer in the store")
	}
}

// TestRemoteCompare: comparing with a snapshot whose layer is still in a
// registry downloads it and lists its files (its change list read from
// the layer's tar: strata did not make it here).
func TestRemoteCompare(t *testing.T) {
	s, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := remoteLayer(t, s, map[string]string{"etc/app.conf": "port 80\n", "usr/bin/app": "x"})
	b := NewBackend(s, nil)
	base := &event.Snapshot{Config: &v1.ConfigFile{}}
	snap := &event.Snapshot{Layers: []v1.Hash{d}, DiffID: d, Config: &v1.ConfigFile{}, Parent: base}
	ch, err := b.Compare(base, snap)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ch {
		got = append(got, fmt.Sprintf("%s %s", c.Kind, c.Path))
	}
	if want := "added /etc,added /etc/app.conf,added /usr,added /usr/bin,added /usr/bin/app"; strings.Join(got, ",") != want {
		t.Errorf("Compare = %q, want %s", got, want)
	}
	back, err := b.Compare(snap, base)
	if err != nil || len(back) != 5 || back[0].Kind != layers.Deleted {
		t.Errorf("Compare the other way = %v, %v; want the 5 paths deleted", back, err)
	}
}

// TestShellFetchesRemoteLayer: a debug shell on a snapshot whose layer is
// still in a registry downloads it first, on the shell's terminal, and
// the container gets it as a lower dir; when the layer cannot be had the
// shell does not start and says which layer.
func TestShellFetchesRemoteLayer(t *testing.T) {
	s, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := remoteLayer(t, s, map[string]string{"etc/app.conf": "port 80\n", "usr/bin/app": "#!/bin/sh\n"})
	b := NewBackend(s, nil)
	var lowers []string
	b.Runner = &fakeRunner{do: func(spec *sandbox.Spec, stdout, stderr io.Writer) (int, error) {
		lowers = spec.Lower
		return 0, nil
	}}
	snap := &event.Snapshot{Layers: []v1.Hash{d}, DiffID: d, Config: &v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{d}}}}
	sh, err := b.Shell(snap, ShellOptions{Shell: "/usr/bin/app"})
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	sh.SetStdin(strings.NewReader(""))
	sh.SetStdout(io.Discard)
	sh.SetStderr(&errb)
	if err := sh.Run(); err != nil {
		t.Fatalf("shell: %v\n%s", err, errb.String())
	}
	sh.Discard()
	if !strings.Contains(errb.String(), "downloading layer "+short(d)) {
		t.Errorf("the shell's terminal does not say it downloads the layer: %q", errb.String())
	}
	if !s.HasLayer(d) || len(lowers) == 0 {
		t.Errorf("layer stored %v, container lowers %v", s.HasLayer(d), lowers)
	}

	// A layer the registry lost: the shell does not start.
	s2, _ := layers.Open(t.TempDir())
	d2 := remoteLayer(t, s2, map[string]string{"etc/app.conf": "y"})
	rl, _ := s2.Remote(d2)
	s2.DropRemote(d2)
	rl.Digest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	ref, _ := name.NewDigest(strings.TrimSuffix(rl.Source, ":cache") + "@" + rl.Digest.String())
	rl.Blob, _ = remote.Layer(ref)
	s2.AddRemote(rl)
	b2 := NewBackend(s2, nil)
	ran := false
	b2.Runner = &fakeRunner{do: func(*sandbox.Spec, io.Writer, io.Writer) (int, error) { ran = true; return 0, nil }}
	snap2 := &event.Snapshot{Layers: []v1.Hash{d2}, DiffID: d2, Config: &v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{d2}}}}
	sh2, err := b2.Shell(snap2, ShellOptions{Shell: "/usr/bin/app"})
	if err != nil {
		t.Fatal(err)
	}
	sh2.SetStderr(io.Discard)
	err = sh2.Run()
	sh2.Discard()
	if err == nil || !strings.Contains(err.Error(), "could not be downloaded from") || ran {
		t.Errorf("shell on a lost layer: err %v, ran %v; want an error naming the download and no container", err, ran)
	}
}

// TestRunImageFetchesRemoteLayers: x on an image whose layers are still
// in a registry (a push-only build from a shared cache) downloads them
// before the container starts, so it never runs on part of its rootfs.
func TestRunImageFetchesRemoteLayers(t *testing.T) {
	s, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := remoteLayer(t, s, map[string]string{"etc/app.conf": "port 80\n", "usr/bin/app": "x"})
	b := NewBackend(s, nil)
	var lowers []string
	b.Runner = &fakeRunner{do: func(spec *sandbox.Spec, stdout, stderr io.Writer) (int, error) {
		lowers = spec.Lower
		return 0, nil
	}}
	cfg := &v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{d}}, Config: v1.Config{Cmd: []string{"/usr/bin/app"}}}
	if _, err := b.RunImage(context.Background(), cfg, func(string, string) {}); err != nil {
		t.Fatal(err)
	}
	if !s.HasLayer(d) || len(lowers) != 1 {
		t.Errorf("layer stored %v, container lowers %v: want the downloaded layer under the container", s.HasLayer(d), lowers)
	}
}
