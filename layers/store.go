package layers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	gname "github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Store is strata's state folder (DESIGN.md, "State on disk"):
//
//	ROOT/blobs/sha256/<hex>    content store: layer tars (uncompressed and
//	                           compressed), configs, manifests
//	ROOT/layers/<hex>/fs       the unpacked layer with diffID <hex>, in
//	                           overlay lower-dir form (read-only by contract)
//	ROOT/layers/<hex>/meta.json
//	ROOT/cache/                cache index
//	ROOT/images/index.json     names -> manifests
//	ROOT/tmp/<id>/             per-process scratch, swept at start
//
// Everything is written to a temp file or dir under ROOT/tmp and renamed
// into place, so a crash never leaves a half-written object. Every process
// holds a shared lock on ROOT/lock; prune takes it exclusively.
type Store struct {
	root    string
	lock    *os.File
	tmp     string // this process's scratch dir
	tmpLock *os.File

	mu     sync.Mutex
	closed bool
	remote map[v1.Hash]RemoteLayer // remote.go: layers known, not yet fetched
}

// Open opens (creating when needed) the store at root and sweeps scratch
// dirs left by processes that are gone.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("store: empty root (set --root)")
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"blobs/sha256", "layers", "cache", "images", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	lf, err := os.OpenFile(filepath.Join(root, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_SH); err != nil {
		lf.Close()
		return nil, fmt.Errorf("store: lock %s: %w", lf.Name(), err)
	}
	s := &Store{root: root, lock: lf}
	s.sweep()
	tmp, err := os.MkdirTemp(filepath.Join(root, "tmp"), strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	// The lock is taken before it appears as .lock: a sweep by another
	// process that found an unlocked .lock would remove this dir (and its
	// flock would make ours fail). Until then the dir is new, so kept.
	tl, err := os.OpenFile(filepath.Join(tmp, ".lock-new"), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = unix.Flock(int(tl.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err == nil {
		err = os.Rename(filepath.Join(tmp, ".lock-new"), filepath.Join(tmp, ".lock"))
	}
	if err != nil {
		if tl != nil {
			tl.Close()
		}
		os.RemoveAll(tmp)
		s.Close()
		return nil, fmt.Errorf("store: scratch lock: %w", err)
	}
	s.tmp, s.tmpLock = tmp, tl
	return s, nil
}

// sweep removes scratch dirs whose owner is gone: a live owner holds an
// exclusive flock on <dir>/.lock.
func (s *Store) sweep() {
	entries, _ := os.ReadDir(filepath.Join(s.root, "tmp"))
	for _, e := range entries {
		dir := filepath.Join(s.root, "tmp", e.Name())
		f, err := os.Open(filepath.Join(dir, ".lock"))
		if err == nil {
			if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
				f.Close()
				continue // owner alive
			}
			f.Close()
		} else if info, serr := os.Stat(dir); serr == nil && time.Since(info.ModTime()) < time.Minute {
			continue // being created right now
		}
		removeAllForce(dir)
	}
}

// Close releases the store and removes this process's scratch dir.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.tmp != "" {
		removeAllForce(s.tmp)
	}
	if s.tmpLock != nil {
		s.tmpLock.Close()
	}
	return s.lock.Close()
}

// Root is the store's folder.
func (s *Store) Root() string { return s.root }

// TempDir makes a new scratch dir on the store's filesystem; it is removed
// by Close at the latest.
func (s *Store) TempDir(prefix string) (string, error) {
	return os.MkdirTemp(s.tmp, prefix)
}

// removeAllForce removes a tree even when directories in it are read-only.
func removeAllForce(dir string) {
	if err := os.RemoveAll(dir); err == nil {
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// RemoveAll removes a scratch tree (read-only dirs included).
func RemoveAll(dir string) { removeAllForce(dir) }

func (s *Store) blobPath(h v1.Hash) string {
	return filepath.Join(s.root, "blobs", h.Algorithm, h.Hex)
}

// HasBlob reports whether the blob is stored.
func (s *Store) HasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.blobPath(h))
	return err == nil
}

// OpenBlob opens a stored blob.
func (s *Store) OpenBlob(h v1.Hash) (*os.File, error) {
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("blob %s: %w", h, fs.ErrNotExist)
		}
		return nil, err
	}
	return f, nil
}

// BlobWriter writes one blob to scratch while hashing it; Commit verifies
// the digest (when one is expected) and renames it into the content store.
type BlobWriter struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

// NewBlobWriter starts a blob.
func (s *Store) NewBlobWriter() (*BlobWriter, error) {
	f, err := os.CreateTemp(s.tmp, "blob-")
	if err != nil {
		return nil, err
	}
	return &BlobWriter{s: s, f: f, h: sha256.New()}, nil
}

func (w *BlobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (w *BlobWriter) Size() int64 { return w.n }

// Digest is the digest of what was written so far.
func (w *BlobWriter) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// Commit stores the blob. If expected is non-zero and differs from the
// content's digest, nothing is stored and an error says so.
func (w *BlobWriter) Commit(expected v1.Hash) (v1.Hash, int64, error) {
	if w.done {
		return v1.Hash{}, 0, errors.New("blob already committed")
	}
	w.done = true
	got := w.Digest()
	name := w.f.Name()
	if err := w.f.Close(); err != nil {
		os.Remove(name)
		return got, w.n, err
	}
	if expected.Hex != "" && expected != got {
		os.Remove(name)
		return got, w.n, fmt.Errorf("digest mismatch: expected %s, content is %s", expected, got)
	}
	if err := os.Chmod(name, 0o444); err != nil {
		os.Remove(name)
		return got, w.n, err
	}
	if err := os.Rename(name, w.s.blobPath(got)); err != nil {
		os.Remove(name)
		return got, w.n, err
	}
	return got, w.n, nil
}

// Abort throws the blob away.
func (w *BlobWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	name := w.f.Name()
	w.f.Close()
	os.Remove(name)
}

// PutBlob stores r's content; expected may be zero.
func (s *Store) PutBlob(r io.Reader, expected v1.Hash) (v1.Hash, int64, error) {
	w, err := s.NewBlobWriter()
	if err != nil {
		return v1.Hash{}, 0, err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return v1.Hash{}, 0, err
	}
	return w.Commit(expected)
}

// PutBytes stores a small blob.
func (s *Store) PutBytes(b []byte) (v1.Hash, error) {
	h, _, err := s.PutBlob(bytes.NewReader(b), v1.Hash{})
	return h, err
}

// LayerMeta is what the store knows of one unpacked layer.
type LayerMeta struct {
	DiffID v1.Hash `json:"diff_id"`
	Size   int64   `json:"size"`  // uncompressed tar size
	Files  int     `json:"files"` // entries in the change list
	// Stats counts the change list kept with the layer (nil when none
	// is, or the layer was stored before stats were kept).
	Stats *ChangeStats `json:"stats,omitempty"`
	// Compressed is the gzip blob made on first export (zero until then).
	Compressed     v1.Hash   `json:"compressed,omitzero"`
	CompressedSize int64     `json:"compressed_size,omitempty"`
	Created        time.Time `json:"created"`
}

func (s *Store) layerDir(diffID v1.Hash) string {
	return filepath.Join(s.root, "layers", diffID.Hex)
}

// LayerFS is the unpacked layer, usable as an overlay lower dir.
func (s *Store) LayerFS(diffID v1.Hash) string {
	return filepath.Join(s.layerDir(diffID), "fs")
}

// HasLayer reports whether the layer is stored and unpacked (its dir
// complete, see layerComplete).
func (s *Store) HasLayer(diffID v1.Hash) bool {
	return s.layerComplete(diffID) && s.HasBlob(diffID)
}

// Layer returns a stored layer's metadata.
func (s *Store) Layer(diffID v1.Hash) (LayerMeta, error) {
	var m LayerMeta
	b, err := os.ReadFile(filepath.Join(s.layerDir(diffID), "meta.json"))
	if err != nil {
		if rm, ok := s.remoteLayerMeta(diffID); ok {
			return rm, nil
		}
		return m, fmt.Errorf("layer %s: %w", diffID, err)
	}
	err = json.Unmarshal(b, &m)
	return m, err
}

func (s *Store) writeLayerMeta(m LayerMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return WriteFileBytes(filepath.Join(s.layerDir(m.DiffID), "meta.json"), b)
}

// LayerStats counts a stored layer's change list without holding it: the
// counts kept in its meta.json, else (a layer stored before they were)
// those of its changes.json read entry by entry.
func (s *Store) LayerStats(diffID v1.Hash) (st ChangeStats, files int, err error) {
	if m, err := s.Layer(diffID); err == nil && m.Stats != nil {
		return *m.Stats, m.Files, nil
	}
	f, err := os.Open(filepath.Join(s.layerDir(diffID), "changes.json"))
	if err != nil {
		return st, 0, err
	}
	defer f.Close()
	err = eachChange(f, func(c *Change) error {
		st.Add(c)
		files++
		return nil
	})
	if err != nil { // not in strata's own form: the list whole, as LayerChanges reads it
		var c []Change
		if c, err = s.LayerChanges(diffID); err != nil {
			return ChangeStats{}, 0, err
		}
		return Stats(c), len(c), nil
	}
	return st, files, nil
}

// LayerChanges reads the change list kept with a layer.
func (s *Store) LayerChanges(diffID v1.Hash) ([]Change, error) {
	f, err := os.Open(filepath.Join(s.layerDir(diffID), "changes.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := []Change{}
	if m, err := s.Layer(diffID); err == nil && m.Files > 0 {
		c = make([]Change, 0, min(m.Files, 1<<22)) // the count kept with it: no regrowing a million entries
	}
	err = eachChange(f, func(ch *Change) error {
		c = append(c, *ch)
		return nil
	})
	if err == nil {
		return c, nil
	}
	// Not in the form strata writes (changesWriter): what encoding/json
	// makes of it, error included.
	if _, serr := f.Seek(0, io.SeekStart); serr != nil {
		return nil, serr
	}
	c = nil
	err = json.NewDecoder(f).Decode(&c)
	return c, err
}

// PendingLayer is a layer made in scratch: its tar (uncompressed) and
// optionally its unpacked, overlay-form tree. CommitLayer moves both into
// the store.
type PendingLayer struct {
	Tar    string  // path of the uncompressed tar in scratch
	DiffID v1.Hash // sha256 of Tar
	Size   int64   // bytes of Tar
	FS     string  // unpacked tree in scratch, or "" to unpack from Tar
	// ChangesFile is the change list written with the tar, as
	// changes.json (LayerChanges' form) in scratch, or "" for a layer
	// that has none (imported). The list is never held in memory: Files
	// and Stats count it.
	ChangesFile string
	Files       int         // entries in ChangesFile
	Stats       ChangeStats // ChangesFile's counts
}

// CommitLayer stores a pending layer: the tar as a blob, the tree as
// layers/<diffID>/fs. If the layer already exists the pending files are
// dropped. The pending paths are consumed either way.
func (s *Store) CommitLayer(p *PendingLayer) (LayerMeta, error) {
	defer func() {
		os.Remove(p.Tar)
		if p.ChangesFile != "" {
			os.Remove(p.ChangesFile)
		}
		if p.FS != "" {
			removeAllForce(p.FS)
		}
	}()
	if s.HasLayer(p.DiffID) {
		return s.Layer(p.DiffID)
	}
	// The blob.
	if !s.HasBlob(p.DiffID) {
		if err := os.Chmod(p.Tar, 0o444); err != nil {
			return LayerMeta{}, err
		}
		if err := os.Rename(p.Tar, s.blobPath(p.DiffID)); err != nil {
			return LayerMeta{}, err
		}
	}
	// The tree, staged in scratch then renamed to layers/<hex>.
	stage, err := s.TempDir("layer-")
	if err != nil {
		return LayerMeta{}, err
	}
	defer removeAllForce(stage)
	fsDir := filepath.Join(stage, "fs")
	if p.FS != "" {
		if err := os.Rename(p.FS, fsDir); err != nil {
			return LayerMeta{}, fmt.Errorf("commit layer: %w", err)
		}
		p.FS = ""
	} else {
		if err := os.Mkdir(fsDir, 0o755); err != nil {
			return LayerMeta{}, err
		}
		f, err := s.OpenBlob(p.DiffID)
		if err != nil {
			return LayerMeta{}, err
		}
		_, err = extract(f, fsDir)
		f.Close()
		if err != nil {
			return LayerMeta{}, fmt.Errorf("unpack layer %s: %w", p.DiffID, err)
		}
	}
	m := LayerMeta{DiffID: p.DiffID, Size: p.Size, Files: p.Files, Created: time.Now().UTC()}
	if p.ChangesFile != "" {
		if err := os.Chmod(p.ChangesFile, 0o444); err != nil {
			return LayerMeta{}, err
		}
		if err := os.Rename(p.ChangesFile, filepath.Join(stage, "changes.json")); err != nil {
			return LayerMeta{}, fmt.Errorf("commit layer: %w", err)
		}
		p.ChangesFile = ""
		st := p.Stats
		m.Stats = &st
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(stage, "meta.json"), b, 0o644); err != nil {
		return LayerMeta{}, err
	}
	err = os.Rename(stage, s.layerDir(p.DiffID))
	if err != nil && !s.layerComplete(p.DiffID) && s.moveAsideIncomplete(p.DiffID) {
		err = os.Rename(stage, s.layerDir(p.DiffID)) // in place of an incomplete dir
	}
	if err != nil {
		if s.layerComplete(p.DiffID) { // another process won the race
			return s.Layer(p.DiffID)
		}
		return LayerMeta{}, fmt.Errorf("commit layer: %w", err)
	}
	os.Chmod(s.layerDir(p.DiffID), 0o755)
	return m, nil
}

// ImportLayer stores a layer read from an uncompressed tar stream (a base
// image's layer): the blob and the unpacked tree are written in one pass.
// If expected is non-zero the content must have that digest.
func (s *Store) ImportLayer(r io.Reader, expected v1.Hash) (LayerMeta, error) {
	if expected.Hex != "" && s.HasLayer(expected) {
		return s.Layer(expected)
	}
	w, err := s.NewBlobWriter()
	if err != nil {
		return LayerMeta{}, err
	}
	fsDir, err := s.TempDir("import-")
	if err != nil {
		w.Abort()
		return LayerMeta{}, err
	}
	tee := io.TeeReader(r, w)
	if _, err := extract(tee, fsDir); err != nil {
		w.Abort()
		removeAllForce(fsDir)
		return LayerMeta{}, err
	}
	// Drain padding after the tar's end so the digest covers every byte.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		w.Abort()
		removeAllForce(fsDir)
		return LayerMeta{}, err
	}
	got := w.Digest()
	if expected.Hex != "" && got != expected {
		w.Abort()
		removeAllForce(fsDir)
		return LayerMeta{}, fmt.Errorf("layer content is %s, but the image says %s", got, expected)
	}
	size := w.Size()
	name := w.f.Name()
	w.done = true
	w.f.Close()
	return s.CommitLayer(&PendingLayer{Tar: name, DiffID: got, Size: size, FS: fsDir})
}

// Layers lists every stored layer.
func (s *Store) Layers() ([]LayerMeta, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "layers"))
	if err != nil {
		return nil, err
	}
	var out []LayerMeta
	for _, e := range entries {
		m, err := s.Layer(v1.Hash{Algorithm: "sha256", Hex: e.Name()})
		if err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// WriteFileAtomic writes path through fn into a temp file beside it, then
// renames it into place: readers see the old file or the whole new one,
// never half of it; on error nothing is left.
func WriteFileAtomic(path string, fn func(w io.Writer) error) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory: give a file path, not a folder", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// WriteFileBytes writes b to path atomically (WriteFileAtomic).
func WriteFileBytes(path string, b []byte) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// ImageRecord is one name in the local image store.
type ImageRecord struct {
	Name     string    `json:"name"`
	Manifest v1.Hash   `json:"manifest"`
	Config   v1.Hash   `json:"config"` // the image id
	Size     int64     `json:"size"`   // uncompressed layers
	Created  time.Time `json:"created"`
}

// withIndex runs fn on the image index, ROOT/images/index.json (names ->
// records), under ROOT/images/lock (UpdateJSON).
func (s *Store) withIndex(exclusive bool, fn func(idx map[string]ImageRecord) (bool, error)) error {
	err := UpdateJSON(filepath.Join(s.root, "images", "index.json"), filepath.Join(s.root, "images", "lock"), exclusive, fn)
	if je := (*JSONFileError)(nil); errors.As(err, &je) {
		return fmt.Errorf("image index %w", je)
	}
	return err
}

// NormalizeName turns "name" into "name:latest" and checks the name is a
// valid reference name.
func NormalizeName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty image name")
	}
	if strings.ContainsAny(name, " \t\n") || strings.HasPrefix(name, "-") {
		return "", fmt.Errorf("invalid image name %q", name)
	}
	if strings.Contains(name, "@") {
		if _, err := gname.NewDigest(name, gname.WeakValidation); err != nil {
			return "", fmt.Errorf("invalid image name %q: %v (want [HOST[:PORT]/]NAME[:TAG] or NAME@sha256:DIGEST)", name, err)
		}
		return name, nil
	}
	orig := name
	last := name[strings.LastIndex(name, "/")+1:]
	if !strings.Contains(last, ":") {
		name += ":latest"
	}
	_, err := gname.NewTag(name, gname.WeakValidation)
	if err == nil && slices.Contains(strings.Split(name, "/"), "") {
		err = errors.New("a path component is empty")
	}
	if host, _, ok := strings.Cut(name, "/"); err == nil && ok {
		if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") && (i == 0 || !isDigits(host[i+1:])) {
			err = fmt.Errorf("registry %q: the port after : must be a number", host)
		}
	}
	if err != nil {
		return "", fmt.Errorf("invalid image name %q: %v (want [HOST[:PORT]/]NAME[:TAG], the name in lowercase)", orig, err)
	}
	return name, nil
}

// Tag points name at a stored image.
func (s *Store) Tag(name string, rec ImageRecord) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	rec.Name = n
	return s.withIndex(true, func(idx map[string]ImageRecord) (bool, error) {
		idx[n] = rec
		return true, nil
	})
}

// Images lists the local image store, newest first.
func (s *Store) Images() ([]ImageRecord, error) {
	var out []ImageRecord
	err := s.withIndex(false, func(idx map[string]ImageRecord) (bool, error) {
		for _, r := range idx {
			out = append(out, r)
		}
		return false, nil
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out, err
}

// LookupImage finds a local image by name (with or without tag), by full
// or abbreviated id ("sha256:abc…" or "abc…", at least 4 hex digits).
func (s *Store) LookupImage(ref string) (ImageRecord, bool, error) {
	var found ImageRecord
	var ok, named bool
	err := s.withIndex(false, func(idx map[string]ImageRecord) (bool, error) {
		if n, err := NormalizeName(ref); err == nil {
			if r, hit := idx[n]; hit {
				found, ok, named = r, true, true
				return false, nil
			}
		}
		names, err := byID(idx, ref)
		if err != nil || len(names) == 0 {
			return false, err
		}
		found, ok = idx[names[0]], true
		return false, nil
	})
	if err != nil || named {
		return found, ok, err
	}
	// A step's image (intermediate.go), by id.
	ids := map[string]bool{}
	if ok {
		ids[found.Config.Hex[:min(12, len(found.Config.Hex))]] = true
	}
	rec, hit, err := s.lookupIntermediate(ref, ids)
	if err != nil {
		return ImageRecord{}, false, err
	}
	if hit && !ok {
		found, ok = rec, true
	}
	return found, ok, nil
}

// byID is the names of the image whose id is ref (full or abbreviated,
// "sha256:" optional, at least 4 hex digits), sorted. A prefix that two
// images share is an error, as with docker.
func byID(idx map[string]ImageRecord, ref string) ([]string, error) {
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) < 4 || !isHex(id) {
		return nil, nil
	}
	var names []string
	ids := map[string]bool{}
	for n, r := range idx {
		if strings.HasPrefix(r.Config.Hex, id) {
			names = append(names, n)
			ids[r.Config.Hex[:min(12, len(r.Config.Hex))]] = true
		}
	}
	if len(ids) > 1 {
		short := make([]string, 0, len(ids))
		for h := range ids {
			short = append(short, h)
		}
		sort.Strings(short)
		return nil, fmt.Errorf("image id prefix %s is ambiguous: it starts %s; give more digits", ref, strings.Join(short, ", "))
	}
	sort.Strings(names)
	return names, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Untag removes names (or every name of an id) from the local store. It
// returns the names removed; an unknown reference is an error and changes
// nothing.
func (s *Store) Untag(refs ...string) ([]string, error) {
	return s.untag(true, refs)
}

// UntagSafe is Untag as docker rmi does it without -f: an id that names
// an image with several names is refused (name them one by one).
func (s *Store) UntagSafe(refs ...string) ([]string, error) {
	return s.untag(false, refs)
}

func (s *Store) untag(force bool, refs []string) ([]string, error) {
	var removed []string
	err := s.withIndex(true, func(idx map[string]ImageRecord) (bool, error) {
		var names []string
		for _, ref := range refs {
			var match []string
			if n, err := NormalizeName(ref); err == nil {
				if _, hit := idx[n]; hit {
					match = append(match, n)
				}
			} else if _, hit := idx[ref]; hit {
				match = append(match, ref) // a name stored before names were checked
			}
			if len(match) == 0 {
				var err error
				if match, err = byID(idx, ref); err != nil {
					return false, err
				}
				if len(match) > 1 && !force {
					sort.Strings(match)
					return false, fmt.Errorf("image %s has %d names (%s): remove them by name, or give -f to remove them all", ref, len(match), strings.Join(match, ", "))
				}
			}
			if len(match) == 0 {
				return false, fmt.Errorf("no such image: %s", ref)
			}
			names = append(names, match...)
		}
		sort.Strings(names)
		names = slices.Compact(names) // a name given twice is removed once
		for _, n := range names {
			delete(idx, n)
		}
		removed = names
		return true, nil
	})
	return removed, err
}
