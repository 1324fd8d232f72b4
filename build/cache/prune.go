package cache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/layers"
)

// PruneOptions say how much prune removes.
type PruneOptions struct {
	// All drops the whole build cache (entries, records, cache mounts),
	// leaving only what images of the index need.
	All bool
	// KeepStorage, when > 0, drops the least recently used cache entries
	// until the layers still referenced take at most this many bytes.
	KeepStorage int64
}

// PruneResult is what prune freed; Bytes is what the store shrank by.
type PruneResult struct {
	CacheEntries int
	CacheMounts  int
	layers.GCResult
}

// Prune removes unreferenced layers and blobs and, as asked, cache
// entries. It needs the store to itself: with another strata process
// running it fails at once with layers.ErrStoreBusy.
func Prune(s *layers.Store, opt PruneOptions) (res PruneResult, err error) {
	if err := s.LockExclusive(); err != nil {
		return res, err
	}
	defer s.LockShared()
	// What was freed is what the store shrank by (the parts' own counts
	// miss directories, links and what removing them freed besides).
	before := s.Usage()
	defer func() { res.Bytes = max(0, before-s.Usage()) }()
	cacheDir := Root(s)
	if opt.All {
		ents, err := Entries(s)
		if err != nil {
			return res, err
		}
		res.CacheEntries = len(ents)
		for _, sub := range []string{"keys", "records", "files", "sums"} {
			d := filepath.Join(cacheDir, sub)
			res.Bytes += layers.DiskUsage(d)
			if err := os.RemoveAll(d); err != nil {
				return res, err
			}
		}
		mounts := filepath.Join(cacheDir, "mounts")
		if des, err := os.ReadDir(mounts); err == nil {
			res.CacheMounts = len(des)
			res.Bytes += layers.DiskUsage(mounts)
			layers.RemoveAll(mounts)
		}
		gc, err := s.GC(nil)
		res.Layers, res.Blobs = gc.Layers, gc.Blobs
		res.Bytes += gc.Bytes
		return res, err
	}
	ents, err := Entries(s)
	if err != nil {
		return res, err
	}
	// Entries that cannot be used any more go first.
	usable := ents[:0]
	for _, e := range ents {
		ok := e.Entry != nil
		if ok {
			for _, d := range e.Entry.LayerIDs() {
				if !s.HasLayer(d) {
					ok = false
					break
				}
			}
		}
		if !ok {
			res.Bytes += fileSize(e.Path)
			os.Remove(e.Path)
			res.CacheEntries++
			continue
		}
		usable = append(usable, e)
	}
	ents = usable
	if opt.KeepStorage > 0 {
		sizes := map[v1.Hash]int64{}
		metas, err := s.Layers()
		if err != nil {
			return res, err
		}
		for _, m := range metas {
			sizes[m.DiffID] = layers.LayerDiskSize(m)
		}
		imgs, err := s.ImageLayers()
		if err != nil {
			return res, err
		}
		// Oldest use first.
		sort.Slice(ents, func(i, j int) bool { return ents[i].LastUsed.Before(ents[j].LastUsed) })
		total := func(from int) int64 {
			seen := map[v1.Hash]bool{}
			var n int64
			add := func(d v1.Hash) {
				if !seen[d] {
					seen[d] = true
					n += sizes[d]
				}
			}
			for d := range imgs {
				add(d)
			}
			for _, e := range ents[from:] {
				for _, d := range e.Entry.LayerIDs() {
					add(d)
				}
			}
			return n
		}
		drop := 0
		for drop < len(ents) && total(drop) > opt.KeepStorage {
			drop++
		}
		for _, e := range ents[:drop] {
			res.Bytes += fileSize(e.Path)
			os.Remove(e.Path)
			res.CacheEntries++
		}
		ents = ents[drop:]
	}
	// Sums files: those a stage record names stay (they explain a miss
	// and feed an incremental COPY); the rest, and temp files a crash
	// left, go.
	_, freed := pruneSums(SumsDir(s.Root()), recordSums(s))
	res.Bytes += freed
	res.Bytes += sweepStatCaches(filepath.Join(cacheDir, "files"))
	keep := map[v1.Hash]bool{}
	for _, e := range ents {
		for _, d := range e.Entry.LayerIDs() {
			keep[d] = true
		}
	}
	gc, err := s.GC(keep)
	res.Layers, res.Blobs = gc.Layers, gc.Blobs
	res.Bytes += gc.Bytes
	return res, err
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// recordSums are the sums files the stage records name.
func recordSums(s *layers.Store) map[string]bool {
	keep := map[string]bool{}
	dir := filepath.Join(Root(s), "records")
	des, _ := os.ReadDir(dir)
	for _, d := range des {
		b, err := os.ReadFile(filepath.Join(dir, d.Name()))
		if err != nil {
			continue
		}
		var rec StageRecord
		if json.Unmarshal(b, &rec) != nil {
			continue
		}
		for _, st := range rec.Steps {
			for _, sm := range []*Sums{st.Files, st.FromFiles} {
				if sm != nil && validDigest(sm.Digest) {
					keep[sm.Digest] = true
				}
			}
		}
	}
	return keep
}

// sweepStatCaches removes from the stat caches' dir what a crash left
// (temp files and sort runs, named with a leading dot) and the JSON stat
// caches of older strata (no longer read), returning the bytes freed.
func sweepStatCaches(dir string) (bytes int64) {
	des, _ := os.ReadDir(dir)
	for _, d := range des {
		if n := d.Name(); strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".json") {
			p := filepath.Join(dir, n)
			size := fileSize(p)
			if os.Remove(p) == nil {
				bytes += size
			}
		}
	}
	return bytes
}
