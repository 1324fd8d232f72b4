package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// Root is ROOT/cache.
func Root(s *layers.Store) string { return filepath.Join(s.Root(), "cache") }

func keyFile(root, key string) string {
	return filepath.Join(root, "cache", "keys", strings.TrimPrefix(key, "sha256:")+".json")
}

func recordFile(root, dockerfile, stage string) string {
	h := sha256.Sum256([]byte(dockerfile + "\x00" + stage))
	return filepath.Join(root, "cache", "records", hex.EncodeToString(h[:16])+".json")
}

// Local is the cache of a store: its entries and stage records.
type Local struct {
	Store *layers.Store
}

// KeyFile is the file of key's entry.
func (l Local) KeyFile(key string) string { return keyFile(l.Store.Root(), key) }

// Lookup finds a usable entry: recorded, and its layer still stored.
func (l Local) Lookup(key string) (*Entry, bool) {
	f := keyFile(l.Store.Root(), key)
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, false
	}
	var ent Entry
	if json.Unmarshal(b, &ent) != nil || !ent.WellFormed() || ent.Key != key {
		return nil, false
	}
	for _, d := range ent.LayerIDs() {
		if !l.Store.HasLayer(d) {
			return nil, false
		}
	}
	now := time.Now()
	os.Chtimes(f, now, now) // last use, for prune --keep-storage
	return &ent, true
}

// Entry is the entry recorded for key, its layers stored or not (nil
// when there is none, or it is unreadable).
func (l Local) Entry(key string) *Entry {
	if b, err := os.ReadFile(keyFile(l.Store.Root(), key)); err == nil {
		var ent Entry
		if json.Unmarshal(b, &ent) == nil && ent.WellFormed() && ent.Key == key {
			return &ent
		}
	}
	return nil
}

// Save records ent under its key.
func (l Local) Save(ent *Entry) error {
	b, err := json.Marshal(ent)
	if err != nil {
		return err
	}
	f := keyFile(l.Store.Root(), ent.Key)
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return err
	}
	return layers.WriteFileBytes(f, b)
}

// Record is the last build's record of a stage (dockerfile, the
// Dockerfile's absolute path; stage, its name or index and platform).
// found is false when there is no record file; true with a nil record
// when it is unreadable.
func (l Local) Record(dockerfile, stage string) (r *StageRecord, found bool) {
	b, err := os.ReadFile(recordFile(l.Store.Root(), dockerfile, stage))
	if err != nil {
		return nil, false
	}
	var rec StageRecord
	if json.Unmarshal(b, &rec) != nil {
		return nil, true
	}
	rec.sumsIn(SumsDir(l.Store.Root()))
	return &rec, true
}

// sumsIn says where the record's sums files are.
func (r *StageRecord) sumsIn(dir string) {
	for i := range r.Steps {
		s := &r.Steps[i]
		s.Files, s.FromFiles = s.Files.In(dir), s.FromFiles.In(dir)
	}
}

// SaveRecord keeps r as its stage's last build (best effort: a record
// only explains misses).
func (l Local) SaveRecord(r *StageRecord) {
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	f := recordFile(l.Store.Root(), r.Dockerfile, r.Stage)
	if os.MkdirAll(filepath.Dir(f), 0o755) == nil {
		layers.WriteFileBytes(f, b)
	}
}

// Entries lists the cache's entries with their files' sizes and last
// use (for prune and reports).
func Entries(s *layers.Store) ([]File, error) {
	dir := filepath.Join(Root(s), "keys")
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []File
	for _, d := range des {
		if !strings.HasSuffix(d.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, d.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var ent Entry
		if json.Unmarshal(b, &ent) != nil || !ent.WellFormed() {
			out = append(out, File{Path: p}) // unreadable: prune removes it
			continue
		}
		fi, err := d.Info()
		if err != nil {
			continue
		}
		out = append(out, File{Path: p, Entry: &ent, LastUsed: fi.ModTime()})
	}
	return out, nil
}

// File is one stored cache entry.
type File struct {
	Path     string
	Entry    *Entry // nil when unreadable
	LastUsed time.Time
}

// UnrecordedLayer is what is known of a hit's layer that its cache entry
// has no size for (a plain image records none; an entry kept from such a
// hit neither): the stored layer's size and files once it is here, or,
// while it is still in the image, where it is and its compressed size
// from the image's manifest: never a size of 0 that would pass for an
// empty layer.
func (l Local) UnrecordedLayer(snap *event.Snapshot) (int64, int, *event.RemoteLayer) {
	d := snap.DiffID
	if d.Hex == "" {
		return 0, 0, nil
	}
	if rl, ok := l.Store.Remote(d); ok {
		return 0, 0, &event.RemoteLayer{Source: rl.Source, CompressedSize: rl.CompressedSize}
	}
	if m, err := l.Store.Layer(d); err == nil && l.Store.HasLayer(d) {
		if _, n, ok := snap.ChangeStats(); ok && (snap.Stats != nil || snap.Changes != nil) {
			return m.Size, n, nil
		}
		// downloaded or imported: no change list kept, its tar's entries
		if n, err := tarEntries(l.Store, d); err == nil {
			return m.Size, n, nil
		}
	}
	return 0, 0, nil
}

// NewRecord is the record of a stage's build (dockerfile, stage: as
// Record names it) that did the steps done and stopped at pending (nil
// when none stopped it: it failed or was cancelled), of a stage of
// stageSteps steps whose last build was last (nil when none).
func NewRecord(dockerfile, stage string, done []RecordStep, pending *RecordStep, last *StageRecord, stageSteps int) *StageRecord {
	steps := done
	if pending != nil { // the step that failed or was cancelled
		p := *pending
		p.Unfinished = true
		steps = append(slices.Clone(steps), p)
	}
	if last != nil && len(steps) < stageSteps && len(steps) < len(last.Steps) {
		// The stage stopped early: for the steps it did not reach, the
		// last build that ran them stays the reference.
		steps = append(steps, last.Steps[len(steps):]...)
	}
	return &StageRecord{Dockerfile: dockerfile, Stage: stage, Steps: steps, Time: time.Now().UTC(), Stopped: len(steps) < stageSteps}
}
