package layers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteChangesAsMarshal: the change list written one entry at a time
// is byte for byte what json.Marshal of the whole list was (stores keep
// reading the ones written before), and reads back equal.
func TestWriteChangesAsMarshal(t *testing.T) {
	lists := [][]Change{
		{},
		{{Path: "/a", Kind: Added, Type: TypeRegular, Size: 3, Mode: 0o644, ModTime: time.Unix(1700000000, 5).UTC()}},
		{
			{Path: "/d", Kind: Modified, Type: TypeDir, Mode: 0o755 | 1<<31, Opaque: true},
			{Path: "/d/<&>\"é\x01", Kind: Added, Type: TypeSymlink, Linkname: "../x<y>", UID: 1000, GID: 1000},
			{Path: "/gone", Kind: Deleted},
			{Path: "/h", Kind: Added, Type: TypeHardlink, Linkname: "/a", UID: -1},
		},
	}
	for i, l := range lists {
		file := filepath.Join(t.TempDir(), "changes.json")
		if err := writeChanges(file, l); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(l)
		if string(got) != string(want) {
			t.Errorf("list %d written as\n%s\nwant json.Marshal's\n%s", i, got, want)
		}
		var back []Change
		if err := json.Unmarshal(got, &back); err != nil || len(back) != len(l) {
			t.Errorf("list %d reads back as %d entries (%v), want %d", i, len(back), err, len(l))
		}
	}
}
