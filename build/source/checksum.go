package source

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/internal/recfile"
	"github.com/strata-build/strata/layers"
)

// StatCache remembers the content digest of context files by their stat
// data, so a rebuild hashes only files that changed (as git's index does).
// It lives in ROOT/cache/files/<context hash>.stat, a record file
// (internal/recfile) of host path -> stat key and digest in walk order
// (recfile.Tree): a checksum walk reads it alongside, one record at a
// time, and what it learns is sorted on disk and merged in by Save, so it
// is never held whole. A lost or stale file costs a rehash, never a wrong
// result: any change of size, mtime, ctime or inode misses.
type StatCache struct {
	file   string
	mu     sync.Mutex
	learnt *recfile.Sorter // entries hashed this build
	n      int             // how many were learnt
}

type statEntry struct {
	Size  int64
	Mtime int64
	Ctime int64
	Ino   uint64
	Sum   string
}

func (e statEntry) String() string {
	return fmt.Sprintf("%d:%d:%d:%d:%s", e.Size, e.Mtime, e.Ctime, e.Ino, e.Sum)
}

func parseStatEntry(v string) (statEntry, bool) {
	var e statEntry
	parts := strings.Split(v, ":")
	if len(parts) != 5 {
		return e, false
	}
	var err [4]error
	e.Size, err[0] = strconv.ParseInt(parts[0], 10, 64)
	e.Mtime, err[1] = strconv.ParseInt(parts[1], 10, 64)
	e.Ctime, err[2] = strconv.ParseInt(parts[2], 10, 64)
	e.Ino, err[3] = strconv.ParseUint(parts[3], 10, 64)
	e.Sum = parts[4]
	return e, errors.Join(err[:]...) == nil && len(e.Sum) == 64
}

// OpenStatCache opens the stat cache of the context directory contextDir
// in the store at root (an empty one if there is none or it is unreadable).
func OpenStatCache(root, contextDir string) *StatCache {
	abs, _ := filepath.Abs(contextDir)
	h := sha256.Sum256([]byte(abs))
	return &StatCache{file: filepath.Join(root, "cache", "files", hex.EncodeToString(h[:16])+".stat")}
}

func statKey(fi fs.FileInfo) (statEntry, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statEntry{}, false
	}
	return statEntry{Size: fi.Size(), Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Ino: st.Ino}, true
}

// statCursors read the stat cache alongside one checksum walk: the walk
// asks in walk order, so the file is read forward. A few cursors are kept,
// each at its own place: a view's files come from several layers' trees
// (each read forward by its own cursor), and a source argument may ask
// before the last one (a cursor from the start).
type statCursors struct {
	file string
	cs   []*statCursor
	tick int
}

const maxStatCursors = 8

func (sc *StatCache) cursor() *statCursors { return &statCursors{file: sc.file} }

func (cs *statCursors) close() {
	for _, c := range cs.cs {
		c.close()
	}
}

// lookup is host's entry, if the file has one.
func (cs *statCursors) lookup(host string) (statEntry, bool) {
	cs.tick++
	var best *statCursor
	for _, c := range cs.cs {
		if c.read && recfile.Tree(c.last, host) <= 0 && (best == nil || recfile.Tree(c.last, best.last) > 0) {
			best = c
		}
	}
	if best == nil {
		if len(cs.cs) < maxStatCursors {
			best = &statCursor{file: cs.file}
			cs.cs = append(cs.cs, best)
		} else {
			best = cs.cs[0]
			for _, c := range cs.cs {
				if c.used < best.used {
					best = c
				}
			}
		}
		best.rewind()
	}
	best.used = cs.tick
	return best.lookup(host)
}

// statCursor reads the stat cache forward.
type statCursor struct {
	file string
	f    *os.File
	r    *recfile.Reader
	cur  recfile.Record
	ok   bool // cur holds a record
	last string
	used int
	read bool // rewound at least once (the file may not exist)
}

func (c *statCursor) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

func (c *statCursor) rewind() {
	c.close()
	c.ok, c.read, c.last = false, true, ""
	f, err := os.Open(c.file)
	if err != nil {
		return
	}
	c.f, c.r = f, recfile.NewReader(f)
	c.advance()
}

func (c *statCursor) advance() {
	rec, ok, err := c.r.Next()
	c.cur, c.ok = rec, ok && err == nil
}

// lookup is host's entry, if the file has one.
func (c *statCursor) lookup(host string) (statEntry, bool) {
	c.last = host
	for c.ok && recfile.Tree(c.cur.Key, host) < 0 {
		c.advance()
	}
	if !c.ok || c.cur.Key != host {
		return statEntry{}, false
	}
	return parseStatEntry(c.cur.Value)
}

// sumBufs are sum's read buffers: io.Copy would allocate one per file
// (32 KB each, 3 GB of garbage for 100,000 files). f is passed as a plain
// io.Reader: *os.File.WriteTo, which io.CopyBuffer prefers, allocates its
// own buffer.
var sumBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// sum returns the digest of a regular file's content (opened through src,
// beneath the context); cur reads the stat cache.
func (sc *StatCache) sum(cur *statCursors, src Source, host string, fi fs.FileInfo) (string, error) {
	k, ok := statKey(fi)
	if ok {
		e, hit := cur.lookup(host)
		if hit && e.Size == k.Size && e.Mtime == k.Mtime && e.Ctime == k.Ctime && e.Ino == k.Ino {
			return e.Sum, nil
		}
	}
	f, err := src.Open(host)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := sumBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(h, struct{ io.Reader }{f}, *buf)
	sumBufs.Put(buf)
	if err != nil {
		return "", err
	}
	s := hex.EncodeToString(h.Sum(nil))
	if ok && recfile.Valid(host) {
		k.Sum = s
		sc.learn(host, k)
	}
	return s, nil
}

// learn keeps what was hashed, sorted on disk until Save (best effort:
// the cache only spares work).
func (sc *StatCache) learn(host string, e statEntry) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.learnt == nil {
		dir := filepath.Dir(sc.file)
		if os.MkdirAll(dir, 0o755) != nil {
			return
		}
		sc.learnt = &recfile.Sorter{Dir: dir, Cmp: recfile.Tree}
	}
	if sc.learnt.Add(recfile.Record{Key: host, Value: e.String()}) == nil {
		sc.n++
	}
}

// Save writes the cache back if it learnt something: the old file and
// what was learnt, merged in walk order (the learnt entry wins).
func (sc *StatCache) Save() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.learnt == nil {
		return
	}
	defer func() {
		sc.learnt.Close()
		sc.learnt, sc.n = nil, 0
	}()
	if sc.n == 0 {
		return
	}
	layers.WriteFileAtomic(sc.file, sc.writeEntries)
}

// writeEntries writes the old file merged with what was learnt.
func (sc *StatCache) writeEntries(f io.Writer) error {
	w := bufio.NewWriterSize(f, 64<<10)
	old := &statCursor{file: sc.file}
	old.rewind()
	defer old.close()
	err := sc.learnt.Each(func(r recfile.Record) error {
		for old.ok && recfile.Tree(old.cur.Key, r.Key) < 0 {
			if err := recfile.Write(w, old.cur); err != nil {
				return err
			}
			old.advance()
		}
		if old.ok && old.cur.Key == r.Key {
			old.advance() // replaced
		}
		return recfile.Write(w, r)
	})
	if err != nil {
		return err
	}
	for ; old.ok; old.advance() {
		if err := recfile.Write(w, old.cur); err != nil {
			return err
		}
	}
	return w.Flush()
}

// entrySum is the digest of one file system entry: type, permission bits
// and, for regular files, content; for symlinks, the target.
func (sc *StatCache) entrySum(cur *statCursors, src Source, host string, fi fs.FileInfo) (string, error) {
	mode := fi.Mode()
	switch {
	case mode.IsRegular():
		s, err := sc.sum(cur, src, host, fi)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("f%o:%s", mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), s), nil
	case mode.IsDir():
		return fmt.Sprintf("d%o", mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)), nil
	case mode&fs.ModeSymlink != 0:
		t, err := src.Readlink(host)
		if err != nil {
			return "", err
		}
		return "l" + t, nil
	default:
		return fmt.Sprintf("o%v", mode), nil
	}
}

// ContextSums checksums what the source arguments select in the context,
// exactly as COPY will read it (.dockerignore, --exclude, wildcards,
// symlinks followed for the named sources), into w.
func (sc *StatCache) ContextSums(w *cache.SumsWriter, src *Context, args []string) error {
	return sc.sourceSums(w, src, args, false)
}

// ViewSums checksums what COPY --from reads from a stage or image, the way
// BuildKit's content hash of a file op's selected paths does (its tarsum
// header: type, mode, uid, gid, link target, and the content; no mtime):
// COPY --from keeps the source's owners, so they are part of it.
func (sc *StatCache) ViewSums(w *cache.SumsWriter, src *View, args []string) error {
	return sc.sourceSums(w, src, args, true)
}

func (sc *StatCache) sourceSums(w *cache.SumsWriter, src Source, args []string, owners bool) error {
	cur := sc.cursor()
	defer cur.close()
	entrySum := func(src Source, host string, fi fs.FileInfo) (string, error) {
		s, err := sc.entrySum(cur, src, host, fi)
		if err != nil || !owners {
			return s, err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			s += fmt.Sprintf(":%d:%d", st.Uid, st.Gid)
		}
		return s, nil
	}
	for _, arg := range args {
		ps, err := src.Match(arg)
		if err != nil {
			return err
		}
		for _, p := range ps {
			fi, host, err := src.Stat(p, true)
			if err != nil {
				return err
			}
			s, err := entrySum(src, host, fi)
			if err != nil {
				return err
			}
			if err := w.Add(p, s); err != nil {
				return err
			}
			if !fi.IsDir() {
				continue
			}
			err = src.Walk(p, func(rel string, info fs.FileInfo, h string) error {
				s, err := entrySum(src, h, info)
				if err != nil {
					return err
				}
				return w.Add(path.Join(p, rel), s)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
