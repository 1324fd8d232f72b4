package layers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// ErrStoreBusy is returned by LockExclusive when another strata process
// has the store open.
var ErrStoreBusy = errors.New("another strata process is using the store")

// LockExclusive turns this process's shared lock on ROOT/lock into an
// exclusive one, at once or not at all: prune must run alone, and waiting
// behind a TUI session that stays open for hours helps nobody.
func (s *Store) LockExclusive() error {
	if err := unix.Flock(int(s.lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%w (%s): try again when it has finished", ErrStoreBusy, s.root)
		}
		return fmt.Errorf("store: lock: %w", err)
	}
	return nil
}

// LockShared goes back to the shared lock every process holds.
func (s *Store) LockShared() error {
	return unix.Flock(int(s.lock.Fd()), unix.LOCK_SH)
}

// GCResult is what GC removed.
type GCResult struct {
	Layers int   // unpacked layers
	Blobs  int   // content-store blobs
	Bytes  int64 // disk space freed (file sizes)
}

// ImageLayers lists the layers (diffIDs) of every image in the index.
func (s *Store) ImageLayers() (map[v1.Hash]bool, error) {
	recs, err := s.Images()
	if err != nil {
		return nil, err
	}
	more, err := s.indexImages() // index.go: every platform's image
	if err != nil {
		return nil, err
	}
	recs = append(recs, more...)
	keep := map[v1.Hash]bool{}
	for _, r := range recs {
		cfg, err := s.LoadConfig(r)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r.Name, err)
		}
		for _, d := range cfg.RootFS.DiffIDs {
			keep[d] = true
		}
	}
	return keep, nil
}

// GC removes what nothing references: unpacked layers not in keep and
// not used by an image of the index, and blobs that are neither an
// image's manifest or config nor a kept layer's tar or compressed tar.
// Call it with the exclusive lock held (LockExclusive).
func (s *Store) GC(keep map[v1.Hash]bool) (GCResult, error) {
	var res GCResult
	imgs, err := s.ImageLayers()
	if err != nil {
		return res, err
	}
	live := map[v1.Hash]bool{}
	for d := range keep {
		live[d] = true
	}
	for d := range imgs {
		live[d] = true
	}
	blobs := map[string]bool{}
	recs, err := s.Images()
	if err != nil {
		return res, err
	}
	more, err := s.indexImages()
	if err != nil {
		return res, err
	}
	for _, r := range append(recs, more...) {
		blobs[r.Manifest.Hex] = true
		blobs[r.Config.Hex] = true
	}
	for _, h := range s.indexBlobs() {
		blobs[h.Hex] = true
	}
	s.gcIntermediates(live, blobs)
	metas, err := s.Layers()
	if err != nil {
		return res, err
	}
	known := map[string]bool{}
	for _, m := range metas {
		known[m.DiffID.Hex] = true
		if live[m.DiffID] {
			blobs[m.DiffID.Hex] = true
			if m.Compressed.Hex != "" {
				blobs[m.Compressed.Hex] = true
			}
			continue
		}
		dir := s.layerDir(m.DiffID)
		res.Bytes += diskUsage(dir)
		// Rename out of the way first: a crash mid-removal leaves scratch
		// (swept at the next start), never a half layer that looks whole.
		trash := filepath.Join(s.tmp, "gc-"+m.DiffID.Hex)
		if err := os.Rename(dir, trash); err != nil {
			return res, fmt.Errorf("remove layer %s: %w", m.DiffID, err)
		}
		removeAllForce(trash)
		res.Layers++
	}
	// Layer dirs without a readable meta.json are debris of a crash.
	des, _ := os.ReadDir(filepath.Join(s.root, "layers"))
	for _, d := range des {
		if !known[d.Name()] {
			dir := filepath.Join(s.root, "layers", d.Name())
			res.Bytes += diskUsage(dir)
			removeAllForce(dir)
			res.Layers++
		}
	}
	bdir := filepath.Join(s.root, "blobs", "sha256")
	des, err = os.ReadDir(bdir)
	if err != nil {
		return res, err
	}
	for _, d := range des {
		if blobs[d.Name()] {
			continue
		}
		p := filepath.Join(bdir, d.Name())
		if fi, err := d.Info(); err == nil {
			res.Bytes += fi.Size()
		}
		if err := os.Remove(p); err != nil {
			return res, err
		}
		res.Blobs++
	}
	return res, nil
}

// diskUsage is the disk space the files under dir take (as du: the
// blocks allocated, so a sparse file counts for its data, not its size).
func diskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				if st, ok := fi.Sys().(*syscall.Stat_t); ok {
					n += st.Blocks * 512
				} else {
					n += fi.Size()
				}
			}
		}
		return nil
	})
	return n
}

// DiskUsage is the disk space the files under dir take (for reports).
func DiskUsage(dir string) int64 { return diskUsage(dir) }

// LayerDiskSize estimates what a stored layer takes on disk: its tar, its
// unpacked tree (about the tar's size) and its compressed blob.
func LayerDiskSize(m LayerMeta) int64 { return 2*m.Size + m.CompressedSize }
