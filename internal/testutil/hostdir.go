package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// HostDir is a directory outside everything the build may touch, with a
// file that the attacks below try to overwrite, read or delete.
func HostDir(t testing.TB) (dir string, snapshot func() string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "host")
	for _, d := range []string{dir, filepath.Join(dir, ".docker"), filepath.Join(dir, "cron")} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"pwned", ".docker/config.json", "cron/f"} {
		content := "host " + f
		if f == "cron/f" {
			content = "" // an empty file: what a secret mount's stub looks like
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	snapshot = func() string {
		var b strings.Builder
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				b.WriteString("error " + err.Error() + "\n")
				return nil
			}
			st := fi.Sys().(*syscall.Stat_t)
			data := ""
			if fi.Mode().IsRegular() {
				d, _ := os.ReadFile(p)
				data = string(d)
			}
			b.WriteString(strings.Join([]string{p, fi.Mode().String(), string(rune('0' + st.Uid%10)), data, fi.ModTime().String()}, " ") + "\n")
			return nil
		})
		return b.String()
	}
	return dir, snapshot
}
