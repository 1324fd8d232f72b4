package layers

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// JSONFileError is a JSON file (UpdateJSON's) that does not hold a JSON
// object: its message is "PATH: why", for the caller to say what the file
// is and what to do.
type JSONFileError struct {
	Path string
	Err  error
}

func (e *JSONFileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *JSONFileError) Unwrap() error { return e.Err }

// UpdateJSON is the one way strata keeps a small shared table on disk (the
// image index, the pulled names): under an flock on lockPath (created if
// missing; shared to read, exclusive with write) it reads the JSON object
// in path (a missing file, or null, is an empty map) and calls fn with it.
// With write, when fn says it changed the map, the map is written back,
// indented, atomically (WriteFileAtomic) before the lock is let go, so two
// processes on one ROOT never lose each other's changes and a reader never
// sees half a file. A file that is no JSON object is a *JSONFileError.
func UpdateJSON[M ~map[K]V, K comparable, V any](path, lockPath string, write bool, fn func(m M) (changed bool, err error)) error {
	lf, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close() // closing drops the flock
	how := unix.LOCK_SH
	if write {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(lf.Fd()), how); err != nil {
		return err
	}
	m := M{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			return &JSONFileError{Path: path, Err: err}
		}
		if m == nil {
			m = M{}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	changed, err := fn(m)
	if err != nil || !changed || !write {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileBytes(path, b)
}
