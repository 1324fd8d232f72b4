package source

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers/beneath"
)

// A directory of the context swapped for a symlink after it was listed
// (the context changing during the build) is never followed: the walk
// fails rather than list and read the host dir.
func TestContextWalkNeverFollowsASwappedDir(t *testing.T) {
	host, snap := testutil.HostDir(t)
	before := snap()
	ctxDir := t.TempDir()
	testutil.WriteTree(t, ctxDir, map[string]string{"d/a": "A", "d/sub/b": "B"})
	cs, err := NewContext(ctxDir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	err = cs.Walk("/d", func(rel string, info fs.FileInfo, h string) error {
		seen = append(seen, rel)
		if rel == "a" {
			// The race, made deterministic: sub is now a link to the host.
			sub := filepath.Join(ctxDir, "d", "sub")
			if err := os.RemoveAll(sub); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(host, sub); err != nil {
				t.Fatal(err)
			}
		}
		if !strings.HasPrefix(h, cs.root+"/") {
			t.Errorf("walk gave %s, a host path outside the context %s", h, cs.root)
		}
		return nil
	})
	for _, s := range seen {
		if strings.Contains(s, "pwned") || strings.Contains(s, ".docker") || strings.Contains(s, "cron") {
			t.Fatalf("the walk listed the host dir through the swapped link: %v", seen)
		}
	}
	if err == nil {
		t.Fatalf("the walk went on through a directory that became a symlink: %v", seen)
	}
	if after := snap(); after != before {
		t.Fatalf("the host dir changed")
	}
}

// A file checked by stat and then swapped (its parent now a link to the
// host) is opened beneath the context: the open fails.
func TestContextOpenAfterSwap(t *testing.T) {
	host, _ := testutil.HostDir(t)
	ctxDir := t.TempDir()
	testutil.WriteTree(t, ctxDir, map[string]string{"d/pwned": "context's", "d/l": "->pwned"})
	cs, err := NewContext(ctxDir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	_, h, err := cs.Stat("/d/pwned", true)
	if err != nil {
		t.Fatal(err)
	}
	_, hl, err := cs.Stat("/d/l", false)
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(ctxDir, "d")
	if err := os.RemoveAll(d); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, d); err != nil {
		t.Fatal(err)
	}
	if f, err := cs.Open(h); err == nil {
		b := make([]byte, 100)
		n, _ := f.Read(b)
		f.Close()
		t.Fatalf("opened %s through the swapped link: read %q", h, b[:n])
	} else if !errors.Is(err, beneath.ErrSymlink) {
		t.Logf("refused with: %v", err)
	}
	if target, err := cs.Readlink(hl); err == nil {
		t.Fatalf("read a link through the swapped link: %q", target)
	}
}
