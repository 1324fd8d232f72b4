package layers

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestUpdateJSONConcurrent: writers that each add to the file under the
// lock lose nothing of each other's (each opens the lock file itself, as
// two processes would: flock is per open file), and the file is the
// indented JSON object the image index has always been.
func TestUpdateJSONConcurrent(t *testing.T) {
	dir := t.TempDir()
	path, lock := filepath.Join(dir, "t.json"), filepath.Join(dir, "t.lock")
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- UpdateJSON(path, lock, true, func(m map[string]int) (bool, error) {
					m["total"]++
					m[string(rune('a'+w))]++
					return true, nil
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["total"] != writers*each || m["a"] != each || m["h"] != each {
		t.Errorf("after %d writers x %d updates: %v", writers, each, m)
	}
	want, _ := json.MarshalIndent(m, "", "  ")
	if string(b) != string(want) {
		t.Errorf("file is\n%s\nwant indented JSON\n%s", b, want)
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".t.json.tmp-*")); len(tmps) > 0 {
		t.Errorf("temp files left: %v", tmps)
	}
}

// TestUpdateJSONRules: a missing file or null is an empty map; a reader
// (write false) or fn saying "unchanged" or failing writes nothing; a file
// that is no JSON object is a *JSONFileError naming it, and the image
// index says what the file is.
func TestUpdateJSONRules(t *testing.T) {
	dir := t.TempDir()
	path, lock := filepath.Join(dir, "t.json"), filepath.Join(dir, "t.lock")
	for _, c := range []struct {
		name    string
		write   bool
		changed bool
		fnErr   error
	}{{"reader", false, true, nil}, {"unchanged", true, false, nil}, {"fn fails", true, true, errors.New("no")}} {
		err := UpdateJSON(path, lock, c.write, func(m map[string]string) (bool, error) {
			if len(m) != 0 {
				t.Errorf("%s: missing file read as %v", c.name, m)
			}
			m["k"] = "v"
			return c.changed, c.fnErr
		})
		if err != c.fnErr {
			t.Errorf("%s: %v, want %v", c.name, err, c.fnErr)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("%s: the file was written", c.name)
		}
	}
	os.WriteFile(path, []byte("null"), 0o644)
	if err := UpdateJSON(path, lock, true, func(m map[string]string) (bool, error) { m["k"] = "v"; return true, nil }); err != nil {
		t.Fatalf("null file: %v", err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"k": "v"`) {
		t.Errorf("after null: %s", b)
	}
	os.WriteFile(path, []byte("[1,2"), 0o644)
	err := UpdateJSON(path, lock, false, func(map[string]string) (bool, error) { return false, nil })
	var je *JSONFileError
	if !errors.As(err, &je) || je.Path != path || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("corrupt file: %v, want a *JSONFileError naming %s", err, path)
	}

	s := openStore(t)
	idx := filepath.Join(s.Root(), "images", "index.json")
	if err := os.WriteFile(idx, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Images(); err == nil || !strings.HasPrefix(err.Error(), "image index "+idx+": ") {
		t.Errorf("corrupt image index: %v, want it named", err)
	}
}
