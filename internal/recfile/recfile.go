// Package recfile is strata's sorted record files: each record a key and a
// value, both NUL-terminated ("key\x00value\x00", neither holding a NUL),
// in the order of a comparison of their keys. The build cache keeps
// per-file data in them (the checksums of a step's sources, the stat cache
// of a context) so that it is streamed and merge-joined from disk, never
// held whole: a Sorter takes records in any order and writes them sorted
// with a bounded buffer (sorted runs spilled to temp files, then merged).
package recfile

import (
	"bufio"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Record is one key and its value.
type Record struct{ Key, Value string }

// Bytes compares keys byte by byte (sort.Strings' order).
func Bytes(a, b string) int { return strings.Compare(a, b) }

// Tree compares paths component by component: the order of a walk that
// lists each directory sorted by name, parents first ("/a", "/a/x",
// "/a.txt"): '/' sorts before every other byte.
func Tree(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x == '/' {
			return -1
		}
		if y == '/' {
			return 1
		}
		if x < y {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// Valid reports whether s can be a key or value (it holds no NUL).
func Valid(s string) bool { return !strings.ContainsRune(s, 0) }

// Reader reads records one at a time.
type Reader struct {
	r *bufio.Reader
}

// NewReader reads records from r.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, 64<<10) }

// NewReaderSize reads records from r through a buffer of size bytes.
func NewReaderSize(r io.Reader, size int) *Reader { return &Reader{r: bufio.NewReaderSize(r, size)} }

// runBuffer is the read buffer of each run a merge reads: up to maxFanIn
// runs at once, so small (the runs are read sequentially).
const runBuffer = 8 << 10

// Next is the next record; ok is false at the end. A file that ends
// inside a record is an error, never a short record.
func (r *Reader) Next() (rec Record, ok bool, err error) {
	k, err := r.r.ReadString(0)
	if err == io.EOF && k == "" {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, truncated(err)
	}
	v, err := r.r.ReadString(0)
	if err != nil {
		return rec, false, truncated(err)
	}
	return Record{k[:len(k)-1], v[:len(v)-1]}, true, nil
}

func truncated(err error) error {
	if err == io.EOF {
		return errors.New("record file ends inside a record: truncated")
	}
	return err
}

// Write writes one record to w.
func Write(w *bufio.Writer, rec Record) error {
	w.WriteString(rec.Key)
	w.WriteByte(0)
	w.WriteString(rec.Value)
	_, err := w.Write([]byte{0})
	return err
}

// RunSize is how many records a Sorter holds before it spills them.
const RunSize = 8192

// Sorter sorts records with at most RunSize of them in memory: full
// buffers are sorted and spilled to temp files in Dir, then merged. Of
// records with equal keys, the last added wins.
type Sorter struct {
	Dir  string                // where runs are spilled
	Cmp  func(a, b string) int // the order of keys
	buf  []seqRecord
	seq  int
	runs []string
}

type seqRecord struct {
	Record
	seq int
}

// Add adds a record (its key and value must be Valid).
func (s *Sorter) Add(rec Record) error {
	if !Valid(rec.Key) || !Valid(rec.Value) {
		return fmt.Errorf("record %q holds a NUL byte", rec.Key)
	}
	s.seq++
	s.buf = append(s.buf, seqRecord{rec, s.seq})
	if len(s.buf) >= RunSize {
		return s.spill()
	}
	return nil
}

// sortBuf sorts the buffer and drops all but the last of equal keys.
func (s *Sorter) sortBuf() {
	slices.SortFunc(s.buf, func(a, b seqRecord) int {
		if c := s.Cmp(a.Key, b.Key); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	out := s.buf[:0]
	for i, r := range s.buf {
		if i+1 < len(s.buf) && s.Cmp(r.Key, s.buf[i+1].Key) == 0 {
			continue
		}
		out = append(out, r)
	}
	s.buf = out
}

func (s *Sorter) spill() error {
	s.sortBuf()
	f, err := os.CreateTemp(s.Dir, ".run-")
	if err != nil {
		return err
	}
	s.runs = append(s.runs, f.Name())
	w := bufio.NewWriterSize(f, 64<<10)
	for _, r := range s.buf {
		Write(w, r.Record)
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	clear(s.buf)
	s.buf = s.buf[:0]
	return err
}

// Close removes the spilled runs (after Each, or to give up).
func (s *Sorter) Close() {
	for _, r := range s.runs {
		os.Remove(r)
	}
	s.runs, s.buf = nil, nil
}

// maxFanIn bounds the runs merged at once (open files).
const maxFanIn = 64

// Each calls fn with every record in order, once per key. The Sorter is
// spent after it (Close it).
func (s *Sorter) Each(fn func(Record) error) error {
	for len(s.runs) > maxFanIn { // merge the first runs into one, again
		first := s.runs[:maxFanIn]
		f, err := os.CreateTemp(s.Dir, ".run-")
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 64<<10)
		err = merge(first, nil, s.Cmp, func(r Record) error { return Write(w, r) })
		if err == nil {
			err = w.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		for _, r := range first {
			os.Remove(r)
		}
		s.runs = append([]string{f.Name()}, s.runs[maxFanIn:]...)
		if err != nil {
			return err
		}
	}
	s.sortBuf()
	mem := make([]Record, len(s.buf))
	for i, r := range s.buf {
		mem[i] = r.Record
	}
	s.buf = nil
	return merge(s.runs, mem, s.Cmp, fn)
}

// source is one sorted input of a merge: its index orders equal keys
// (later inputs win).
type source struct {
	cur  Record
	next func() (Record, bool, error)
	idx  int
}

type mergeHeap struct {
	s   []*source
	cmp func(a, b string) int
}

func (h mergeHeap) Len() int { return len(h.s) }
func (h mergeHeap) Less(i, j int) bool {
	if c := h.cmp(h.s[i].cur.Key, h.s[j].cur.Key); c != 0 {
		return c < 0
	}
	return h.s[i].idx < h.s[j].idx
}
func (h mergeHeap) Swap(i, j int) { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *mergeHeap) Push(x any)   { h.s = append(h.s, x.(*source)) }
func (h *mergeHeap) Pop() any {
	x := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return x
}

// merge merges the sorted run files and then mem (sorted), each without
// repeated keys, calling fn once per key with the last input's record.
func merge(runs []string, mem []Record, cmp func(a, b string) int, fn func(Record) error) error {
	h := &mergeHeap{cmp: cmp}
	for i, name := range runs {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		rd := NewReaderSize(f, runBuffer)
		h.s = append(h.s, &source{next: rd.Next, idx: i})
	}
	if len(mem) > 0 {
		i := 0
		h.s = append(h.s, &source{idx: len(runs), next: func() (Record, bool, error) {
			if i == len(mem) {
				return Record{}, false, nil
			}
			i++
			return mem[i-1], true, nil
		}})
	}
	live := h.s[:0]
	for _, s := range h.s {
		r, ok, err := s.next()
		if err != nil {
			return err
		}
		if ok {
			s.cur = r
			live = append(live, s)
		}
	}
	h.s = live
	heap.Init(h)
	var pending Record
	have := false
	for h.Len() > 0 {
		s := h.s[0]
		r := s.cur
		if have && cmp(pending.Key, r.Key) != 0 {
			if err := fn(pending); err != nil {
				return err
			}
		}
		pending, have = r, true // equal keys come by input order: the last wins
		nr, ok, err := s.next()
		if err != nil {
			return err
		}
		if ok {
			s.cur = nr
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	if have {
		return fn(pending)
	}
	return nil
}
