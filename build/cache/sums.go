package cache

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-build/strata/internal/recfile"
)

// A step's content checksum is kept flat: the checksums of its sources
// (one per path) are a sums file, ROOT/cache/sums/<digest>, sorted by path
// (byte order), each record "path\x00sum\x00". Its digest, the sha256 of
// the file, is FileSums.Digest of the same set: the cache key of the same
// content is the key it always was. The step's Inputs (and its stage
// record) keep the digest and count (Sums); the miss reason and an
// incremental COPY merge-join the last build's file with this build's,
// streamed. A sums file is written to a temp file, synced and renamed to
// its digest, so it is never seen half-written; prune removes the ones no
// record names.

// SumsDir is where a store's sums files are.
func SumsDir(storeRoot string) string { return filepath.Join(storeRoot, "cache", "sums") }

// Sums is a set of source checksums kept in a sums file.
type Sums struct {
	Digest string `json:"digest"` // hex sha256 of the file: FileSums.Digest
	Count  int    `json:"count"`

	// Top and TopCount: the top directory most paths are under, and how
	// many (said in the step's cache phase; not recorded).
	Top      string `json:"-"`
	TopCount int    `json:"-"`

	dir string // where the file is (not recorded: set when read)
}

// validDigest: 64 lower-case hex digits, nothing that could name another file.
func validDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	for _, c := range d {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// In is s read from the sums files of dir.
func (s *Sums) In(dir string) *Sums {
	if s == nil {
		return nil
	}
	c := *s
	c.dir = dir
	return &c
}

// Open opens the sums file.
func (s *Sums) Open() (*os.File, error) {
	if !validDigest(s.Digest) {
		return nil, fmt.Errorf("sums digest %q: want 64 hex digits", s.Digest)
	}
	if s.dir == "" {
		return nil, errors.New("the list " + s.Digest[:12] + " is not kept here (a shared cache's record came without it)")
	}
	return os.Open(filepath.Join(s.dir, s.Digest))
}

// Each reads the sums file in order.
func (s *Sums) Each(fn func(path, sum string) error) error {
	f, err := s.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	r := recfile.NewReader(f)
	for {
		rec, ok, err := r.Next()
		if err != nil || !ok {
			return err
		}
		if err := fn(rec.Key, rec.Value); err != nil {
			return err
		}
	}
}

// SumsWriter collects a step's source checksums in any order and writes
// them as a sums file (later sums of a path replace earlier ones), with a
// bounded buffer.
type SumsWriter struct {
	dir string
	s   recfile.Sorter
}

// NewSumsWriter writes a sums file into dir (SumsDir), made if needed.
func NewSumsWriter(dir string) (*SumsWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &SumsWriter{dir: dir, s: recfile.Sorter{Dir: dir, Cmp: recfile.Bytes}}, nil
}

// Add adds the checksum of path.
func (w *SumsWriter) Add(path, sum string) error {
	return w.s.Add(recfile.Record{Key: path, Value: sum})
}

// Close drops what was added (after Finish, or to give up).
func (w *SumsWriter) Close() { w.s.Close() }

// Finish writes the sums file and says what it holds.
func (w *SumsWriter) Finish() (*Sums, error) {
	defer w.s.Close()
	f, err := os.CreateTemp(w.dir, ".sums-")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // renamed away on success
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 64<<10)
	out := &Sums{dir: w.dir}
	top, n := "", 0
	err = w.s.Each(func(r recfile.Record) error {
		out.Count++
		if t, _, ok := strings.Cut(strings.TrimPrefix(r.Key, "/"), "/"); ok {
			// Sorted: the paths under one top directory come together.
			if t != top {
				top, n = t, 0
			}
			n++
			if n > out.TopCount || (n == out.TopCount && t < out.Top) {
				out.Top, out.TopCount = t, n
			}
		}
		return recfile.Write(bw, r)
	})
	if err == nil {
		err = bw.Flush()
	}
	out.Digest = hex.EncodeToString(h.Sum(nil))
	final := filepath.Join(w.dir, out.Digest)
	if _, serr := os.Stat(final); err == nil && serr == nil {
		// The same set is there already (a rebuild): the name is its
		// content, so the temp file is dropped, not synced.
		f.Close()
		return out, nil
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing the checksums of the step's sources in %s: %w", w.dir, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	return out, nil
}

// Write writes the set as a sums file in dir.
func (f FileSums) Write(dir string) (*Sums, error) {
	w, err := NewSumsWriter(dir)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	for k, v := range f {
		if err := w.Add(k, v); err != nil {
			return nil, err
		}
	}
	return w.Finish()
}

// inline is the sums file read whole, for a shared cache's document.
func (s *Sums) inline() (FileSums, error) {
	f := FileSums{}
	err := s.Each(func(p, sum string) error {
		f[p] = sum
		return nil
	})
	return f, err
}

// importSums writes the sums files a shared cache's document carries
// inline into dir, each kept only when its digest is the one it is filed
// under; it returns where a record's Sums is read from (nil when its file
// could not be had: the miss then says so).
func importSums(inline map[string]FileSums, dir string) func(*Sums) *Sums {
	have := map[string]bool{}
	for d, f := range inline {
		if !validDigest(d) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			have[d] = true
			continue
		}
		s, err := f.Write(dir)
		if err != nil {
			continue
		}
		if s.Digest != d {
			continue // not what it claims to be (the file written is named by what it is)
		}
		have[d] = true
	}
	return func(s *Sums) *Sums {
		if s == nil {
			return nil
		}
		if !have[s.Digest] {
			if _, err := os.Stat(filepath.Join(dir, s.Digest)); err != nil || !validDigest(s.Digest) {
				return s.In("") // unreadable: Open says it has no place
			}
		}
		return s.In(dir)
	}
}

// mergeSums walks two sums files side by side in path order: fn gets
// every path with its sum in each ("" and false where it is not there).
func mergeSums(prev, cur *Sums, fn func(path, old string, inOld bool, now string, inCur bool) error) error {
	next := func(s *Sums) (func() (recfile.Record, bool, error), func(), error) {
		if s == nil {
			return func() (recfile.Record, bool, error) { return recfile.Record{}, false, nil }, func() {}, nil
		}
		f, err := s.Open()
		if err != nil {
			return nil, nil, err
		}
		return recfile.NewReader(f).Next, func() { f.Close() }, nil
	}
	pn, pc, err := next(prev)
	if err != nil {
		return err
	}
	defer pc()
	cn, cc, err := next(cur)
	if err != nil {
		return err
	}
	defer cc()
	p, pok, err := pn()
	if err != nil {
		return err
	}
	c, cok, err := cn()
	if err != nil {
		return err
	}
	for pok || cok {
		switch {
		case pok && (!cok || p.Key < c.Key):
			err = fn(p.Key, p.Value, true, "", false)
			if err == nil {
				p, pok, err = pn()
			}
		case cok && (!pok || c.Key < p.Key):
			err = fn(c.Key, "", false, c.Value, true)
			if err == nil {
				c, cok, err = cn()
			}
		default:
			err = fn(c.Key, p.Value, true, c.Value, true)
			if err == nil {
				p, pok, err = pn()
			}
			if err == nil {
				c, cok, err = cn()
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// diffSums names up to three changed paths and counts the rest (changed
// first, then added, then removed, each in path order): merge-joined from
// the two files. prev or cur nil is the empty set.
func diffSums(prev, cur *Sums) (string, error) {
	if prev != nil && cur != nil && prev.Digest == cur.Digest {
		return "", nil
	}
	var changed, added, removed []string // the first three of each
	var total int
	err := mergeSums(prev, cur, func(p, old string, inOld bool, now string, inCur bool) error {
		var list *[]string
		switch {
		case !inOld:
			list = &added
		case !inCur:
			list = &removed
		case old != now:
			list = &changed
		default:
			return nil
		}
		total++
		if len(*list) < 3 {
			*list = append(*list, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return filesText(changed, added, removed, total), nil
}

// Unchanged is the set of paths whose checksum is the same in two sums
// files, read as a forward cursor in walk order (recfile.Tree): an
// incremental COPY asks about its sources in the order its walk visits
// them, so the set is sorted on disk (recfile.Sorter, at most
// recfile.RunSize paths in memory) and never held whole. A path asked
// for behind the cursor (sources out of walk order, as COPY b a) is
// reported changed: the file is copied instead of linked, never linked
// wrongly.
type Unchanged struct {
	dir  string // the sorter's runs; removed by Close
	s    *recfile.Sorter
	n    int
	next func() (recfile.Record, bool)
	stop func()
	cur  recfile.Record
	ok   bool
}

// UnchangedSums is the set of paths with the same, non-empty, checksum
// in prev and cur; dir is a fresh directory it may spill to (removed by
// Close, which the caller must call).
func UnchangedSums(prev, cur *Sums, dir string) (*Unchanged, error) {
	u := &Unchanged{dir: dir, s: &recfile.Sorter{Dir: dir, Cmp: recfile.Tree}}
	err := mergeSums(prev, cur, func(p, old string, inOld bool, now string, inCur bool) error {
		if inOld && inCur && old == now && now != "" {
			u.n++
			return u.s.Add(recfile.Record{Key: p})
		}
		return nil
	})
	if err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

// Has reports whether p's checksum is unchanged, for paths asked in walk
// order; false for a path behind the last one asked.
func (u *Unchanged) Has(p string) bool {
	if u == nil {
		return false
	}
	if u.next == nil {
		u.next, u.stop = iter.Pull(func(yield func(recfile.Record) bool) {
			_ = u.s.Each(func(r recfile.Record) error {
				if !yield(r) {
					return errStopped
				}
				return nil
			})
		})
		u.cur, u.ok = u.next()
	}
	for u.ok && recfile.Tree(u.cur.Key, p) < 0 {
		u.cur, u.ok = u.next()
	}
	return u.ok && u.cur.Key == p
}

var errStopped = errors.New("stopped")

// Len is how many paths are unchanged.
func (u *Unchanged) Len() int {
	if u == nil {
		return 0
	}
	return u.n
}

// Close ends the cursor and removes what the set spilled.
func (u *Unchanged) Close() {
	if u == nil {
		return
	}
	if u.stop != nil {
		u.stop()
	}
	u.s.Close()
	os.RemoveAll(u.dir)
}

// pruneSums removes the sums files of dir that no record of records names
// (and temp files a crash left), returning the bytes freed.
func pruneSums(dir string, keep map[string]bool) (n int, bytes int64) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, d := range des {
		if keep[d.Name()] {
			continue
		}
		p := filepath.Join(dir, d.Name())
		bytes += fileSize(p)
		if os.Remove(p) == nil {
			n++
		}
	}
	return n, bytes
}
