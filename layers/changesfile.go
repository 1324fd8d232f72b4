package layers

import (
	"bufio"
	"encoding/json"
	"os"
)

// writeChanges writes a change list as json.Marshal would, one entry at a
// time through a buffer: the list's JSON is never held whole (it is about
// as large as the list itself, a few MB per 10,000 files).
func writeChanges(file string, changes []Change) error {
	cw, err := createChanges(file)
	if err != nil {
		return err
	}
	for i := range changes {
		if err := cw.add(&changes[i]); err != nil {
			cw.abort()
			return err
		}
	}
	return cw.close()
}

// changesWriter streams a change list to a file, one entry at a time,
// in json.Marshal's form of the whole list, and counts it: a producer
// (DiffLayer) writes a layer's list without holding it.
type changesWriter struct {
	f     *os.File
	w     *bufio.Writer
	n     int         // entries written
	stats ChangeStats // their counts
}

func createChanges(file string) (*changesWriter, error) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o444)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	w.WriteByte('[')
	return &changesWriter{f: f, w: w}, nil
}

func (cw *changesWriter) add(c *Change) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if cw.n > 0 {
		cw.w.WriteByte(',')
	}
	if _, err := cw.w.Write(b); err != nil {
		return err
	}
	cw.n++
	cw.stats.Add(c)
	return nil
}

// close ends the list and the file.
func (cw *changesWriter) close() error {
	cw.w.WriteByte(']')
	err := cw.w.Flush()
	if cerr := cw.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// abort closes and removes the file: nothing half-written is left.
func (cw *changesWriter) abort() {
	cw.f.Close()
	os.Remove(cw.f.Name())
}
