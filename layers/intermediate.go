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
	"time"

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

// A step that made no layer (LABEL, ENV, CMD, …) is recorded as a delta
// from the step before's image (SaveIntermediateDelta): its config and
// manifest blobs are written when someone asks for the image by its id
// (materialize), so a build of a thousand metadata steps does not store a
// thousand growing configs.

// idRecord is one file of ROOT/images/ids: an image record, or for a
// delta record (deltaRecord), the id (Config) and Base plus Delta.
type idRecord struct {
	ImageRecord
	Base  *v1.Hash
	Delta *ConfigDelta
}

// deltaRecord is a delta record as stored.
type deltaRecord struct {
	Config  v1.Hash      `json:"config"` // the image id
	Created time.Time    `json:"created"`
	Base    v1.Hash      `json:"base"`
	Delta   *ConfigDelta `json:"delta"`
}

func (s *Store) readIntermediate(hex string) (idRecord, bool) {
	b, err := os.ReadFile(filepath.Join(s.intermediateDir(), hex))
	if err != nil {
		return idRecord{}, false
	}
	var probe struct {
		Delta json.RawMessage `json:"delta"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return idRecord{}, false
	}
	var r idRecord
	if len(probe.Delta) > 0 {
		var d deltaRecord
		if json.Unmarshal(b, &d) != nil || d.Delta == nil {
			return idRecord{}, false
		}
		r = idRecord{ImageRecord: ImageRecord{Config: d.Config, Created: d.Created}, Base: &d.Base, Delta: d.Delta}
	} else if json.Unmarshal(b, &r.ImageRecord) != nil {
		return idRecord{}, false
	}
	if r.Config.Hex != hex {
		return idRecord{}, false
	}
	return r, true
}

// SaveIntermediateDelta records the step image id as the image base (an
// intermediate image recorded already) changed by d. It writes no blob.
func (s *Store) SaveIntermediateDelta(base, id v1.Hash, d *ConfigDelta, created time.Time) error {
	p := filepath.Join(s.intermediateDir(), id.Hex)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if _, ok := s.readIntermediate(base.Hex); !ok {
		return fmt.Errorf("step image %s: its base %s is not recorded", id, base)
	}
	if err := os.MkdirAll(s.intermediateDir(), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(deltaRecord{Config: id, Created: created, Base: base, Delta: d})
	if err != nil {
		return err
	}
	return WriteFileBytes(p, b)
}

// HasIntermediate: the step image id is recorded (whole or as a delta).
func (s *Store) HasIntermediate(id v1.Hash) bool {
	_, err := os.Stat(filepath.Join(s.intermediateDir(), id.Hex))
	return err == nil
}

// maxDeltaChain bounds a chain of delta records (a loop in a damaged
// store ends there).
const maxDeltaChain = 1 << 20

// IntermediateConfig is the config of the step image id: read whole, or
// rebuilt from the nearest config stored whole through the deltas, and
// checked against id.
func (s *Store) IntermediateConfig(id v1.Hash) (*v1.ConfigFile, error) {
	var chain []*ConfigDelta
	cur := id
	var cfg *v1.ConfigFile
	for {
		r, ok := s.readIntermediate(cur.Hex)
		if !ok {
			return nil, fmt.Errorf("step image %s is not recorded (needed for %s)", cur, id)
		}
		if r.Delta == nil {
			c, err := s.LoadConfig(r.ImageRecord)
			if err != nil {
				return nil, err
			}
			cfg = c
			break
		}
		if len(chain) >= maxDeltaChain {
			return nil, fmt.Errorf("step image %s: its chain of deltas is longer than %d", id, maxDeltaChain)
		}
		chain = append(chain, r.Delta)
		cur = *r.Base
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c, err := chain[i].apply(cfg, applyOwned)
		if err != nil {
			return nil, fmt.Errorf("step image %s: %w", id, err)
		}
		cfg = c
	}
	if len(chain) > 0 {
		got, err := ConfigDigest(cfg)
		if err != nil {
			return nil, err
		}
		if got != id {
			return nil, fmt.Errorf("step image %s could not be rebuilt from its recorded changes (they make %s): build it again", id, got)
		}
	}
	return cfg, nil
}

// materialize writes the config and manifest blobs of the step image id
// recorded as a delta, and records it whole.
func (s *Store) materialize(id v1.Hash) (ImageRecord, error) {
	cfg, err := s.IntermediateConfig(id)
	if err != nil {
		return ImageRecord{}, err
	}
	rec, err := s.SaveImage(cfg)
	if err != nil {
		return ImageRecord{}, err
	}
	if rec.Config != id {
		return ImageRecord{}, fmt.Errorf("step image %s was stored as %s", id, rec.Config)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return ImageRecord{}, err
	}
	return rec, WriteFileBytes(filepath.Join(s.intermediateDir(), id.Hex), b)
}

// materializeMissing: the config blob h is missing; when h is a step image
// recorded as a delta, its blobs are written (true).
func (s *Store) materializeMissing(h v1.Hash) bool {
	r, ok := s.readIntermediate(h.Hex)
	if !ok || r.Delta == nil {
		return false
	}
	_, err := s.materialize(h)
	return err == nil
}

// intermediates lists the intermediate records whose id starts with hex.
func (s *Store) intermediates(prefix string) ([]idRecord, error) {
	des, err := os.ReadDir(s.intermediateDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []idRecord
	for _, d := range des {
		if !strings.HasPrefix(d.Name(), prefix) || len(d.Name()) != 64 || !isHex(d.Name()) {
			continue
		}
		if r, ok := s.readIntermediate(d.Name()); ok {
			out = append(out, r)
		}
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
	if recs[0].Delta != nil {
		rec, err := s.materialize(recs[0].Config)
		if err != nil {
			return ImageRecord{}, false, err
		}
		return rec, true, nil
	}
	return recs[0].ImageRecord, true, nil
}

// gcIntermediates drops the records of intermediate images whose layers
// are not all live, and marks the blobs of the others as kept. A delta
// record lives while its base does.
func (s *Store) gcIntermediates(live map[v1.Hash]bool, blobs map[string]bool) {
	recs, _ := s.intermediates("")
	byID := map[string]idRecord{}
	for _, r := range recs {
		byID[r.Config.Hex] = r
	}
	alive := map[string]bool{}
	var isLive func(hex string, depth int) bool
	isLive = func(hex string, depth int) bool {
		if ok, seen := alive[hex]; seen {
			return ok
		}
		alive[hex] = false // a loop is not live
		r, ok := byID[hex]
		if !ok || depth > maxDeltaChain {
			return false
		}
		if r.Delta != nil {
			ok = isLive(r.Base.Hex, depth+1)
		} else {
			cfg, err := s.LoadConfig(r.ImageRecord)
			ok = err == nil
			if ok {
				for _, d := range cfg.RootFS.DiffIDs {
					if !live[d] {
						ok = false
						break
					}
				}
			}
		}
		alive[hex] = ok
		return ok
	}
	for _, r := range recs {
		if !isLive(r.Config.Hex, 0) {
			os.Remove(filepath.Join(s.intermediateDir(), r.Config.Hex))
			continue
		}
		if r.Delta == nil {
			blobs[r.Manifest.Hex] = true
			blobs[r.Config.Hex] = true
		}
	}
}
