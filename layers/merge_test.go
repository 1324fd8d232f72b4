package layers

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/internal/testutil"
)

// walkCompare orders paths as a walk visits them: depth first, each
// directory's names sorted (told by comparing the paths' names one by one).
func TestWalkCompare(t *testing.T) {
	paths := []string{"/a", "/a/b", "/a.b", "/a/b/c", "/a0", "/a-", "/a/-", "/a/b.c", "/a/b/c.d", "/b", "/a!/x", "/a/b!", "/ab", "/a b"}
	want := slices.Clone(paths)
	slices.SortFunc(want, func(a, b string) int {
		return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
	})
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		got := slices.Clone(paths)
		r.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		slices.SortFunc(got, walkCompare)
		if !slices.Equal(got, want) {
			t.Fatalf("walk order %q, want %q", got, want)
		}
	}
}

// listLayer commits a layer with changes as its change list (an empty
// tree: the merge reads only the lists).
func listLayer(t *testing.T, s *Store, changes []Change) v1.Hash {
	t.Helper()
	dir := t.TempDir()
	tarData := binary.BigEndian.AppendUint64(make([]byte, 1024), uint64(len(changes))) // an empty tar, then bytes of its own
	for _, c := range changes {
		tarData = append(tarData, c.Path...)
	}
	tarFile := filepath.Join(dir, "layer.tar")
	if err := os.WriteFile(tarFile, tarData, 0o644); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(dir, "changes.json")
	if err := writeChanges(cf, changes); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tarData)
	m, err := s.CommitLayer(&PendingLayer{Tar: tarFile, DiffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		Size: int64(len(tarData)), ChangesFile: cf, Files: len(changes), Stats: Stats(changes)})
	if err != nil {
		t.Fatal(err)
	}
	return m.DiffID
}

// A list out of walk order is not merged: ErrNoMerge, which sends the
// caller to the walk; a list in order over it merges.
func TestEachMergedOutOfOrder(t *testing.T) {
	s := testutil.TempStore(t, Open)
	dir := func(p string) Change { return Change{Path: p, Kind: Added, Type: TypeDir, Mode: fs.ModeDir | 0o755} }
	file := func(p string) Change { return Change{Path: p, Kind: Added, Type: TypeRegular, Mode: 0o644, Size: 1} }
	ordered := listLayer(t, s, []Change{dir("/a"), file("/a/x"), file("/a.b"), dir("/b")})
	shuffled := listLayer(t, s, []Change{dir("/c"), file("/a.b"), dir("/a"), file("/a/y")})
	var got []string
	err := s.EachMerged([]v1.Hash{ordered}, func(c *Change) error {
		got = append(got, c.Path)
		return nil
	})
	if err != nil || strings.Join(got, " ") != "/a /a/x /a.b /b" {
		t.Fatalf("merged %q, %v; want /a /a/x /a.b /b", got, err)
	}
	err = s.EachMerged([]v1.Hash{ordered, shuffled}, func(c *Change) error { return nil })
	if !errors.Is(err, ErrNoMerge) || !strings.Contains(err.Error(), `"/a.b" after "/c"`) {
		t.Fatalf("merging a list out of order: %v; want ErrNoMerge naming /a.b after /c", err)
	}
	stop := errors.New("enough")
	if err := s.EachMerged([]v1.Hash{ordered}, func(c *Change) error { return stop }); err != stop {
		t.Fatalf("fn's error: %v, want it returned", err)
	}
}
