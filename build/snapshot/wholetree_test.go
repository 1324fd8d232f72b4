package snapshot

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

// chainBuilder makes a store's layers as a build does: each layer an
// upper dir over the ones before (0/0 devices for deletions, opaque
// xattrs), diffed into a tar and its change list, the upper dir kept as
// the unpacked layer.
type chainBuilder struct {
	t     *testing.T
	store *layers.Store
	chain []v1.Hash
	r     *rand.Rand
	log   []string // what was done, to tell a failure
}

func (b *chainBuilder) view() *layers.View { return b.store.View(b.chain) }

// commit diffs upper over the chain and adds the layer.
func (b *chainBuilder) commit(upper string) {
	t := b.t
	tmp := t.TempDir()
	pl, err := layers.DiffLayer(upper, b.view().Lowers, tmp, layers.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pl.FS = upper
	m, err := b.store.CommitLayer(pl)
	if err != nil {
		t.Fatal(err)
	}
	b.chain = append(b.chain, m.DiffID)
}

var wholeNames = []string{"a", "a.b", "a0", "b", "c"}

// randPath is a path of the view half the time, else a new one.
func (b *chainBuilder) randPath(existing []string) string {
	if len(existing) > 0 && b.r.IntN(2) == 0 {
		return existing[b.r.IntN(len(existing))]
	}
	p := ""
	for range 1 + b.r.IntN(3) {
		p += "/" + wholeNames[b.r.IntN(len(wholeNames))]
	}
	return p
}

// ensureDir makes rel's directory in upper, replacing a non-directory on
// the way (a file of a lower layer replaced by a directory).
func ensureDir(t *testing.T, upper, rel string) {
	t.Helper()
	p := upper
	for _, c := range strings.Split(strings.Trim(rel, "/"), "/") {
		if c == "" {
			continue
		}
		p = filepath.Join(p, c)
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			continue
		}
		os.RemoveAll(p)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// layer makes one random layer: additions, modifications, deletions of
// files and of directories, opaque directories, re-creations, symlinks,
// hard links (within the layer and to a lower layer's file), directories
// replaced by files and files by directories.
func (b *chainBuilder) layer() {
	t := b.t
	upper := t.TempDir()
	var existing, files []string
	var lowerFiles []*layers.Entry
	v := b.view()
	if len(v.Lowers) > 0 {
		if err := v.Walk("/", func(e *layers.Entry) error {
			if e.Path != "/" {
				existing = append(existing, e.Path)
				if e.Info.Mode().IsRegular() {
					lowerFiles = append(lowerFiles, e)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 + b.r.IntN(8) {
		p := b.randPath(existing)
		host := filepath.Join(upper, p)
		op := b.r.IntN(9)
		b.log = append(b.log, fmt.Sprintf("layer %d op %d %s", len(b.chain), op, p))
		switch op {
		case 0, 1: // a file, added or modified (content, mode, owner)
			ensureDir(t, upper, path.Dir(p))
			os.RemoveAll(host)
			if err := os.WriteFile(host, bytes.Repeat([]byte("x"), b.r.IntN(100)), fs.FileMode(0o600+b.r.IntN(0o100))); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(host, b.r.IntN(3), b.r.IntN(3)); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		case 2: // a directory (over a file: replaces it)
			ensureDir(t, upper, p)
		case 3, 4: // a deletion (a file's, or a directory's with its contents)
			ensureDir(t, upper, path.Dir(p))
			os.RemoveAll(host)
			if err := unix.Mknod(host, unix.S_IFCHR, 0); err != nil {
				t.Fatal(err)
			}
		case 5: // an opaque directory, with a file in it
			ensureDir(t, upper, path.Dir(p))
			os.RemoveAll(host)
			if err := os.Mkdir(host, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := unix.Lsetxattr(host, rootless.OverlayOpaqueXattr(), []byte("y"), 0); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(host, wholeNames[b.r.IntN(len(wholeNames))]), []byte("in opaque"), 0o644); err != nil {
				t.Fatal(err)
			}
		case 6: // a symlink
			ensureDir(t, upper, path.Dir(p))
			os.RemoveAll(host)
			if err := os.Symlink(b.randPath(existing), host); err != nil {
				t.Fatal(err)
			}
		case 7: // a hard link to a file of this layer
			if len(files) == 0 {
				continue
			}
			target := filepath.Join(upper, files[b.r.IntN(len(files))])
			if fi, err := os.Lstat(target); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			ensureDir(t, upper, path.Dir(p))
			if fi, err := os.Lstat(target); err != nil || !fi.Mode().IsRegular() || target == host || strings.HasPrefix(target, host+"/") {
				continue // removed by ensureDir (p was under it), or p is the file or holds it
			}
			os.RemoveAll(host)
			if err := os.Link(target, host); err != nil {
				t.Fatal(err)
			}
		case 8: // a hard link to a lower layer's file
			if len(lowerFiles) == 0 {
				continue
			}
			ensureDir(t, upper, path.Dir(p))
			os.RemoveAll(host)
			if err := os.Link(lowerFiles[b.r.IntN(len(lowerFiles))].Host, host); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.commit(upper)
}

// merged is EachTreeEntry's listing, each entry copied.
func merged(be *Backend, snap *event.Snapshot) ([]layers.Change, error) {
	var out []layers.Change
	err := be.EachTreeEntry(snap, func(c *layers.Change) error {
		out = append(out, *c)
		return nil
	})
	return out, err
}

// sameListing says how two listings differ ("" when they do not): the
// same paths in the same order, each with the same fields (times as
// instants).
func sameListing(got, want []layers.Change) string {
	for i := range max(len(got), len(want)) {
		if i >= len(got) {
			return fmt.Sprintf("merge lacks %+v (and %d more)", want[i], len(want)-i-1)
		}
		if i >= len(want) {
			return fmt.Sprintf("merge has %+v, which the walk has not", got[i])
		}
		g, w := got[i], want[i]
		g.ModTime, w.ModTime = g.ModTime.UTC(), w.ModTime.UTC()
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("entry %d: merge %+v, walk %+v", i, g, w)
		}
	}
	return ""
}

// TestEachTreeEntryIsTheWalk: the whole filesystem merged from the
// layers' change lists is Tree's walk of the unpacked layers, entry for
// entry and in its order, for random chains of layers (see layer).
func TestEachTreeEntryIsTheWalk(t *testing.T) {
	testutil.RequireRoot(t, "whiteouts are device nodes, opaque dirs trusted.* xattrs, chown")
	for seed := range uint64(40) {
		store := testutil.TempStore(t, layers.Open)
		b := &chainBuilder{t: t, store: store, r: rand.New(rand.NewPCG(seed, 17))}
		be := NewBackend(store, nil)
		for range 2 + b.r.IntN(5) {
			b.layer()
			snap := &event.Snapshot{Layers: b.chain}
			want, err := be.Tree(snap)
			if err != nil {
				t.Fatal(err)
			}
			got, err := merged(be, snap)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if d := sameListing(got, want); d != "" {
				t.Fatalf("seed %d, %d layers: %s\n%s", seed, len(b.chain), d, strings.Join(b.log, "\n"))
			}
		}
	}
}

// TestEachTreeEntryImportedLayers: imported layers keep no change list:
// each is listed by a walk of its own unpacked tree and merged with the
// lists of the layers built over them, the same as the walk of the view:
// a tar without its parents' entries, with a hard link, a symlink, a
// whiteout and an opaque directory, under random built layers.
func TestEachTreeEntryImportedLayers(t *testing.T) {
	testutil.RequireRoot(t, "whiteouts are device nodes, opaque dirs trusted.* xattrs, chown")
	mt := time.Unix(1e9, 0)
	reg := func(name, body string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o640, Size: int64(len(body)), ModTime: mt, Uid: 1, PAXRecords: map[string]string{"body": body}}
	}
	tars := [][]*tar.Header{{
		reg("etc/passwd", "root\n"), // no etc/ entry: extract makes it
		{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt},
		{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o711, ModTime: mt},
		reg("usr/bin/sh", "#!sh"),
		{Name: "usr/bin/bash", Typeflag: tar.TypeLink, Linkname: "usr/bin/sh", ModTime: mt},
		{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "usr/lib", ModTime: mt},
		{Name: "var/log/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt},
		reg("var/log/a", "a"),
	}, {
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt},
		{Name: "etc/.wh.passwd", Typeflag: tar.TypeReg, ModTime: mt},
		{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt},
		{Name: "usr/.wh..wh..opq", Typeflag: tar.TypeReg, ModTime: mt},
		reg("usr/new", "new"),
		{Name: ".wh.var", Typeflag: tar.TypeReg, ModTime: mt},
	}}
	for seed := range uint64(10) {
		store := testutil.TempStore(t, layers.Open)
		var chain []v1.Hash
		for _, hs := range tars {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range hs {
				h := *h
				body := h.PAXRecords["body"]
				h.PAXRecords = nil
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
				tw.Write([]byte(body))
			}
			tw.Close()
			m, err := store.ImportLayer(&buf, v1.Hash{})
			if err != nil {
				t.Fatal(err)
			}
			chain = append(chain, m.DiffID)
		}
		b := &chainBuilder{t: t, store: store, chain: chain, r: rand.New(rand.NewPCG(seed, 3))}
		be := NewBackend(store, nil)
		for layer := range 3 {
			if layer > 0 {
				b.layer()
			}
			snap := &event.Snapshot{Layers: b.chain}
			want, err := be.Tree(snap)
			if err != nil {
				t.Fatal(err)
			}
			got, err := merged(be, snap)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if d := sameListing(got, want); d != "" {
				t.Fatalf("seed %d, %d layers: %s\n%s", seed, len(b.chain), d, strings.Join(b.log, "\n"))
			}
			if layer == 0 && !slices.ContainsFunc(got, func(c layers.Change) bool { return c.Path == "/usr/new" }) {
				t.Fatalf("the imported layers' listing has no /usr/new: %+v", got)
			}
		}
	}
}
