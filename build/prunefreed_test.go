package build

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/frontend"
)

// du is what GNU du says the store takes, in bytes of blocks.
func du(t *testing.T, dir string) int64 {
	t.Helper()
	out, err := exec.Command("du", "-s", "--block-size=1", dir).Output()
	if err != nil {
		t.Skipf("du: %v", err)
	}
	n, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPruneReportsWhatWasFreed: prune's figure is what the store shrank
// by, as du measures it, directories and all.
func TestPruneReportsWhatWasFreed(t *testing.T) {
	store := newStore(t)
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("d%03d/e/f", i)] = "x"
	}
	build(t, store, "FROM scratch\nCOPY . /app\n", files, frontend.Options{}).mustOK(t)
	before := du(t, store.Root())
	res, err := cache.Prune(store, cache.PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	freed := before - du(t, store.Root())
	if freed <= 0 || res.Bytes != freed {
		t.Errorf("prune --all says %d bytes freed; du says the store shrank by %d", res.Bytes, freed)
	}
}
