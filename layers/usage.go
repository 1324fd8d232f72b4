package layers

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// Usage is the disk space the whole store takes, as du counts it: the
// blocks of every file, directory and link, a hard-linked file once. prune
// reports what it freed as the difference, so the figure is what the
// store really shrank by.
func (s *Store) Usage() int64 {
	var n int64
	seen := map[[2]uint64]bool{}
	filepath.WalkDir(s.root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			n += fi.Size()
			return nil
		}
		if st.Nlink > 1 && !fi.IsDir() {
			k := [2]uint64{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		n += st.Blocks * 512
		return nil
	})
	return n
}
