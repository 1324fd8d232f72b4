package layers

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestOpenConcurrentKeepsScratch: stores opened at the same time on one
// root (two strata processes) never sweep each other's scratch dir, even
// while it is being created, and each one's scratch lock is taken.
func TestOpenConcurrentKeepsScratch(t *testing.T) {
	root := t.TempDir()
	const workers, rounds = 4, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				s, err := Open(root)
				if err != nil {
					errs <- err
					continue
				}
				// Another Open may sweep right now: this store's scratch
				// dir must survive it.
				d, err := s.TempDir("work-")
				if err == nil {
					err = os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o600)
				}
				if err != nil {
					errs <- err
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 5 {
		t.Errorf("... %d errors in all", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Errorf("scratch dirs left after every store closed: %d", len(ents))
	}
}
