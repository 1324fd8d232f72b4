package source

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestStatCacheWrittenAsMarshal: the stat cache, written one entry at a
// time, is byte for byte json.Marshal of its map (caches written before
// still load), and a save then open reads every entry back.
func TestStatCacheWrittenAsMarshal(t *testing.T) {
	root, ctx := t.TempDir(), t.TempDir()
	sc := OpenStatCache(root, ctx)
	sc.entries = map[string]statEntry{
		"/b":            {Size: 1, Mtime: 2, Ctime: 3, Ino: 4, Sum: "ab"},
		"/a/<&>\"é\x01": {Size: -1, Sum: "cd"},
		"/a":            {},
	}
	var buf bytes.Buffer
	if err := sc.writeEntries(&buf); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(sc.entries)
	if buf.String() != string(want) {
		t.Errorf("written as\n%s\nwant json.Marshal's\n%s", buf.String(), want)
	}
	sc.dirty = true
	sc.Save()
	if sc.dirty {
		t.Fatalf("save left the cache dirty: %s not written", sc.file)
	}
	if _, err := os.Stat(filepath.Dir(sc.file)); err != nil {
		t.Fatal(err)
	}
	back := OpenStatCache(root, ctx)
	if len(back.entries) != len(sc.entries) || back.entries["/b"] != sc.entries["/b"] {
		t.Errorf("read back %v, want %v", back.entries, sc.entries)
	}
}
