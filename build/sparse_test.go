package build

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

// TestSparseLayers: `RUN truncate -s 2G /hole` and ADD of a 10 KB tar
// holding a 4 GiB sparse file make layers of a few KB (not gigabytes of
// zeros), unpacked with their holes.
func TestSparseLayers(t *testing.T) {
	needRoot(t)
	rootfs := busyboxRootfs(t)
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("the sandbox is not supported here")
	}
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "big"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(4 << 30)
	f.WriteAt([]byte("data"), 1<<30)
	f.Close()
	var tarball bytes.Buffer
	if _, err := layers.Diff(src, nil, &tarball, layers.DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	df := "FROM scratch\nADD rootfs.tar /\nRUN truncate -s 2G /hole\nADD sparse.tar /\n"
	start := time.Now()
	dir := writeContext(t, df, map[string]string{"rootfs.tar": string(rootfs), "sparse.tar": tarball.String()})
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, runner).mustOK(t)
	t.Logf("build in %v", time.Since(start))
	ids := r.cfg().RootFS.DiffIDs
	if len(ids) != 3 {
		t.Fatalf("%d layers, want 3", len(ids))
	}
	for i, file := range map[int]string{1: "hole", 2: "big"} {
		m, err := store.Layer(ids[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("layer of %s: %d bytes", file, m.Size)
		if m.Size > 64<<10 {
			t.Errorf("the layer of /%s is %d bytes: its holes were stored as zeros", file, m.Size)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(store.LayerFS(ids[i]), file), &st); err != nil {
			t.Fatal(err)
		}
		if st.Blocks*512 > 1<<20 || st.Size < 2<<30 {
			t.Errorf("unpacked /%s: size %d, %d bytes on disk", file, st.Size, st.Blocks*512)
		}
	}
}

// TestCopySparseFile: COPY of a sparse file from the context keeps its
// holes, in the layer and in the unpacked copy.
func TestCopySparseFile(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	dir := writeContext(t, "FROM scratch\nCOPY sparse /sparse\n", nil)
	f, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30)
	f.WriteAt([]byte("data"), 512<<20)
	f.Close()
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	ids := r.cfg().RootFS.DiffIDs
	m, err := store.Layer(ids[len(ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	if m.Size > 64<<10 {
		t.Errorf("COPY of a 1 GiB sparse file made a %d-byte layer: its holes were copied as zeros", m.Size)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(store.LayerFS(ids[len(ids)-1]), "sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 1<<30 || st.Blocks*512 > 1<<20 {
		t.Errorf("unpacked /sparse: size %d, %d bytes on disk", st.Size, st.Blocks*512)
	}
}
