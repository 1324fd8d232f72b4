package layers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Intermediate images are the images a build's steps make, as docker's
// builder keeps them: every id a step prints is usable where an image is
// named (run, inspect, FROM), by its full or abbreviated id. They have no
// name, so `images` does not list them; each is one record file,
// ROOT/images/ids/<config hex>, kept while its layers are (GC drops the
// record and its blobs with the layers).

func (s *Store) intermediateDir() string { return filepath.Join(s.root, "images", "ids") }

// SaveIntermediate stores a step's image (its config and manifest, as
// SaveImage) and records it under its id. It returns the id.
func (s *Store) SaveIntermediate(cfg *v1.ConfigFile) (v1.Hash, error) {
	rec, err := s.SaveImage(cfg)
	if err != nil {
		return v1.Hash{}, err
	}
	p := filepath.Join(s.intermediateDir(), rec.Config.Hex)
	if _, err := os.Stat(p); err == nil {
		return rec.Config, nil
	}
	if err := os.MkdirAll(s.intermediateDir(), 0o700); err != nil {
		return v1.Hash{}, err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return v1.Hash{}, err
	}
	return rec.Config, WriteFileBytes(p, b)
}

// intermediates lists the intermediate records whose id starts with hex.
func (s *Store) intermediates(prefix string) ([]ImageRecord, error) {
	des, err := os.ReadDir(s.intermediateDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ImageRecord
	for _, d := range des {
		if !strings.HasPrefix(d.Name(), prefix) || len(d.Name()) != 64 || !isHex(d.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.intermediateDir(), d.Name()))
		if err != nil {
			continue
		}
		var r ImageRecord
		if json.Unmarshal(b, &r) != nil || r.Config.Hex != d.Name() {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// lookupIntermediate finds an intermediate image by full or abbreviated id
// (at least 4 hex digits, "sha256:" optional). ids are the images of the
// index that also match: a prefix matching two different ids is refused,
// as with docker.
func (s *Store) lookupIntermediate(ref string, ids map[string]bool) (ImageRecord, bool, error) {
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) < 4 || !isHex(id) {
		return ImageRecord{}, false, nil
	}
	recs, err := s.intermediates(id)
	if err != nil || len(recs) == 0 {
		return ImageRecord{}, false, err
	}
	all := map[string]bool{}
	for h := range ids {
		all[h] = true
	}
	for _, r := range recs {
		all[r.Config.Hex[:12]] = true
	}
	if len(all) > 1 {
		short := make([]string, 0, len(all))
		for h := range all {
			short = append(short, h)
		}
		sort.Strings(short)
		return ImageRecord{}, false, fmt.Errorf("image id prefix %s is ambiguous: it starts %s; give more digits", ref, strings.Join(short, ", "))
	}
	return recs[0], true, nil
}

// gcIntermediates drops the records of intermediate images whose layers
// are not all live, and marks the blobs of the others as kept.
func (s *Store) gcIntermediates(live map[v1.Hash]bool, blobs map[string]bool) {
	recs, _ := s.intermediates("")
	for _, r := range recs {
		cfg, err := s.LoadConfig(r)
		ok := err == nil
		if ok {
			for _, d := range cfg.RootFS.DiffIDs {
				if !live[d] {
					ok = false
					break
				}
			}
		}
		if !ok {
			os.Remove(filepath.Join(s.intermediateDir(), r.Config.Hex))
			continue
		}
		blobs[r.Manifest.Hex] = true
		blobs[r.Config.Hex] = true
	}
}
