package layers

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// An IndexRecord is a multi-platform image in the local store: a name
// whose image index (an OCI index blob) lists one image per platform. The
// name itself (Tag) points at one of them, the host's when it was built,
// so commands that take one image keep working; run and inspect take
// --platform to pick another.
type IndexRecord struct {
	Name    string          `json:"name"`
	Index   v1.Hash         `json:"index"` // the index blob's digest
	Images  []PlatformImage `json:"images"`
	Created time.Time       `json:"created"`
}

// PlatformImage is one platform's image of an index.
type PlatformImage struct {
	Platform string `json:"platform"` // os/arch[/variant]
	ImageRecord
}

func (s *Store) withIndexes(exclusive bool, fn func(idx map[string]IndexRecord) (bool, error)) error {
	err := UpdateJSON(filepath.Join(s.root, "images", "indexes.json"), filepath.Join(s.root, "images", "indexes.lock"), exclusive, fn)
	if je := (*JSONFileError)(nil); errors.As(err, &je) {
		return fmt.Errorf("image index list %w", je)
	}
	return err
}

// TagIndex points name at the index rec (rec.Index must be stored) and
// the name's one image at def, one of rec.Images.
func (s *Store) TagIndex(name string, rec IndexRecord, def ImageRecord) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	rec.Name = n
	if err := s.withIndexes(true, func(idx map[string]IndexRecord) (bool, error) {
		idx[n] = rec
		return true, nil
	}); err != nil {
		return err
	}
	return s.Tag(n, def)
}

// LookupIndex is the index the name ref points at, if ref is a name and
// the name still points at one of the index's images (a later
// single-platform build of the name replaces the index).
func (s *Store) LookupIndex(ref string) (IndexRecord, bool, error) {
	n, err := NormalizeName(ref)
	if err != nil {
		return IndexRecord{}, false, nil
	}
	var rec IndexRecord
	var ok bool
	if err := s.withIndexes(false, func(idx map[string]IndexRecord) (bool, error) {
		rec, ok = idx[n]
		return false, nil
	}); err != nil || !ok {
		return IndexRecord{}, false, err
	}
	cur, found, err := s.LookupImage(n)
	if err != nil || !found {
		return IndexRecord{}, false, err
	}
	for _, im := range rec.Images {
		if im.Manifest == cur.Manifest {
			return rec, true, nil
		}
	}
	return IndexRecord{}, false, nil
}

// liveIndexes are the stored indexes whose name still points at one of
// their images (strata rm or a later one-platform build of the name
// leaves the others to GC).
func (s *Store) liveIndexes() ([]IndexRecord, error) {
	var all []IndexRecord
	if err := s.withIndexes(false, func(idx map[string]IndexRecord) (bool, error) {
		for _, r := range idx {
			all = append(all, r)
		}
		return false, nil
	}); err != nil {
		return nil, err
	}
	var out []IndexRecord
	for _, r := range all {
		if _, ok, err := s.LookupIndex(r.Name); err != nil {
			return nil, err
		} else if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// indexImages are the images of every live index (kept by GC).
func (s *Store) indexImages() ([]ImageRecord, error) {
	idx, err := s.liveIndexes()
	var out []ImageRecord
	for _, r := range idx {
		for _, im := range r.Images {
			out = append(out, im.ImageRecord)
		}
	}
	return out, err
}

// indexBlobs are the live index blobs' digests (kept by GC).
func (s *Store) indexBlobs() []v1.Hash {
	idx, _ := s.liveIndexes()
	var out []v1.Hash
	for _, r := range idx {
		out = append(out, r.Index)
	}
	return out
}
