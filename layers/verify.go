package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Blobs are verified when they are read for export, push or run: the
// content is hashed as it is copied (no second pass) and a blob whose
// content does not hash to its name fails the read with a CorruptBlobError.
// The corrupt blob is moved out of the content store at once, so that the
// store no longer claims to have it: the next build makes it anew (a cache
// hit needs the layer's blob) and the next pull fetches it again.

// CorruptBlobError is a stored blob whose content no longer hashes to its
// digest (a flipped bit on disk, an edited file).
type CorruptBlobError struct {
	Digest v1.Hash // the blob's name
	Got    v1.Hash // what its content hashes to
}

func (e *CorruptBlobError) Error() string {
	return fmt.Sprintf("blob %s is corrupt (content hashes to %s): strata removed it from the store; build the image again, or pull it again, to make the blob anew", e.Digest, e.Got)
}

// corrupt reports the blob h read through f (content hashing to got) as
// corrupt and moves it out of the store, unless the store's file is no
// longer the one read (another process put a good copy in its place).
func (s *Store) corrupt(f *os.File, h, got v1.Hash) error {
	p := s.blobPath(h)
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(p, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino {
		os.Rename(p, filepath.Join(s.tmp, "corrupt-"+h.Hex))
	}
	return &CorruptBlobError{Digest: h, Got: got}
}

// OpenBlobVerified opens a stored blob for reading: the content is hashed
// as it is read, and the read that reaches the blob's end (its size, or
// EOF) fails with a *CorruptBlobError, without its bytes, when the digest
// is not the blob's name. A reader that stops before the end verifies
// nothing.
func (s *Store) OpenBlobVerified(h v1.Hash) (io.ReadCloser, error) {
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: only sha256 digests are stored", h)
	}
	f, err := s.OpenBlob(h)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &verifiedBlob{s: s, f: f, want: h, size: fi.Size(), h: sha256.New()}, nil
}

type verifiedBlob struct {
	s    *Store
	f    *os.File
	want v1.Hash
	size int64 // the file's size when opened
	n    int64 // bytes read
	h    hash.Hash
	err  error // sticky: the verdict once the end is reached
}

func (v *verifiedBlob) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF || (err == nil && v.n >= v.size) {
		if got := sha256Hash(v.h); got != v.want {
			// The last bytes are withheld: a reader that stops at the
			// size it expects (io.CopyN) would take them with the error
			// for success.
			v.err = v.s.corrupt(v.f, v.want, got)
			return 0, v.err
		}
		if err == io.EOF {
			v.err = io.EOF
		}
	}
	return n, err
}

func (v *verifiedBlob) Close() error { return v.f.Close() }

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// ReadBlob reads a small stored blob whole (configs, manifests) and
// checks its digest: a blob that changed on disk is a *CorruptBlobError.
func (s *Store) ReadBlob(h v1.Hash) ([]byte, error) {
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("blob %s is not in the store (%w): build the image again, or pull it again", h, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: only sha256 digests are stored", h)
	}
	sum := sha256.Sum256(b)
	if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}); got != h {
		return nil, s.corrupt(f, h, got)
	}
	return b, nil
}

// layerComplete reports whether the unpacked layer dir is whole: meta.json
// is written last, in scratch, before the dir is renamed into layers/, so
// a dir without it (debris of a crash, or one damaged since) is not a
// layer.
func (s *Store) layerComplete(diffID v1.Hash) bool {
	var st unix.Stat_t
	dir := s.layerDir(diffID)
	return unix.Stat(filepath.Join(dir, "meta.json"), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG &&
		unix.Stat(filepath.Join(dir, "fs"), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// CheckLayers makes sure that the unpacked dirs of the layers (diffIDs)
// are complete before they are used (strata run): a layer dir that is
// incomplete is unpacked again from its blob (verified as it is read); a
// layer with neither is an error that says what to do.
func (s *Store) CheckLayers(diffIDs []v1.Hash) error {
	for _, d := range diffIDs {
		if s.layerComplete(d) {
			continue
		}
		if !s.HasBlob(d) {
			return fmt.Errorf("layer %s is not in the store (its unpacked dir is missing or incomplete and its blob is gone): build the image again, or pull it again", d)
		}
		if err := s.unpackLayer(d); err != nil {
			return err
		}
	}
	return nil
}

// unpackLayer unpacks a stored layer blob (verified as it is read) and
// puts it in place of an incomplete layer dir.
func (s *Store) unpackLayer(d v1.Hash) error {
	rc, err := s.OpenBlobVerified(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	fsDir, err := s.TempDir("unpack-")
	if err != nil {
		return err
	}
	cr := &countReader{r: rc}
	if _, err := extract(cr, fsDir); err != nil {
		removeAllForce(fsDir)
		var ce *CorruptBlobError
		if errors.As(err, &ce) {
			return ce
		}
		return fmt.Errorf("unpack layer %s: %w", d, err)
	}
	_, err = s.CommitLayer(&PendingLayer{DiffID: d, Size: cr.n, FS: fsDir})
	return err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// moveAsideIncomplete moves an incomplete layer dir (see layerComplete)
// out of layers/ so a complete one can take its place. It reports whether
// the way is free.
func (s *Store) moveAsideIncomplete(diffID v1.Hash) bool {
	dir := s.layerDir(diffID)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if s.layerComplete(diffID) {
		return false
	}
	trash, err := os.MkdirTemp(s.tmp, "incomplete-")
	if err != nil {
		return false
	}
	if err := os.Rename(dir, filepath.Join(trash, "layer")); err != nil {
		os.Remove(trash)
		return false
	}
	return true
}
