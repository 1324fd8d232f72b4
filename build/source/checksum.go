package source

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/layers"
)

// StatCache remembers the content digest of context files by their stat
// data, so a rebuild hashes only files that changed (as git's index does).
// It lives in ROOT/cache/files/<context hash>.json; a lost or stale file
// costs a rehash, never a wrong result: any change of size, mtime, ctime
// or inode misses.
type StatCache struct {
	file    string
	mu      sync.Mutex
	entries map[string]statEntry
	dirty   bool
}

type statEntry struct {
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"`
	Ctime int64  `json:"c"`
	Ino   uint64 `json:"i"`
	Sum   string `json:"h"`
}

// OpenStatCache opens the stat cache of the context directory contextDir
// in the store at root (an empty one if there is none or it is unreadable).
func OpenStatCache(root, contextDir string) *StatCache {
	abs, _ := filepath.Abs(contextDir)
	h := sha256.Sum256([]byte(abs))
	sc := &StatCache{file: filepath.Join(root, "cache", "files", hex.EncodeToString(h[:16])+".json"), entries: map[string]statEntry{}}
	if b, err := os.ReadFile(sc.file); err == nil {
		if json.Unmarshal(b, &sc.entries) != nil {
			sc.entries = map[string]statEntry{}
		}
	}
	return sc
}

func statKey(fi fs.FileInfo) (statEntry, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statEntry{}, false
	}
	return statEntry{Size: fi.Size(), Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Ino: st.Ino}, true
}

// sumBufs are sum's read buffers: io.Copy would allocate one per file
// (32 KB each, 3 GB of garbage for 100,000 files). f is passed as a plain
// io.Reader: *os.File.WriteTo, which io.CopyBuffer prefers, allocates its
// own buffer.
var sumBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// sum returns the digest of a regular file's content (opened through src,
// beneath the context).
func (sc *StatCache) sum(src Source, host string, fi fs.FileInfo) (string, error) {
	k, ok := statKey(fi)
	if ok {
		sc.mu.Lock()
		e, hit := sc.entries[host]
		sc.mu.Unlock()
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
	if ok {
		k.Sum = s
		sc.mu.Lock()
		sc.entries[host] = k
		sc.dirty = true
		sc.mu.Unlock()
	}
	return s, nil
}

// Save writes the cache back if it learnt something.
func (sc *StatCache) Save() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.dirty {
		return
	}
	if os.MkdirAll(filepath.Dir(sc.file), 0o755) == nil {
		if layers.WriteFileAtomic(sc.file, sc.writeEntries) == nil {
			sc.dirty = false
		}
	}
}

// writeEntries writes json.Marshal(sc.entries) one entry at a time through
// a buffer: the map's JSON (about 150 bytes a file) is never held whole.
func (sc *StatCache) writeEntries(f io.Writer) error {
	keys := make([]string, 0, len(sc.entries))
	for k := range sc.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w := bufio.NewWriterSize(f, 64<<10)
	w.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			w.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return err
		}
		eb, err := json.Marshal(sc.entries[k])
		if err != nil {
			return err
		}
		w.Write(kb)
		w.WriteByte(':')
		w.Write(eb)
	}
	w.WriteByte('}')
	return w.Flush()
}

// entrySum is the digest of one file system entry: type, permission bits
// and, for regular files, content; for symlinks, the target.
func (sc *StatCache) entrySum(src Source, host string, fi fs.FileInfo) (string, error) {
	mode := fi.Mode()
	switch {
	case mode.IsRegular():
		s, err := sc.sum(src, host, fi)
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
	entrySum := func(src Source, host string, fi fs.FileInfo) (string, error) {
		s, err := sc.entrySum(src, host, fi)
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
