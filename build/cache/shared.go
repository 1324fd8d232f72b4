package cache

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/layers"
)

// The shared cache (--cache-to, --cache-from; docs/cache.md "Sharing the
// cache"). An export writes the cache entries of this build's steps, the
// stage records that explain misses, and the layers they name, as one
// OCI artifact: in a registry, in an OCI layout on disk, or (inline) as
// an annotation of the pushed image's manifest. An import reads only the
// entries and records: a hit from it takes the entry as a local hit
// would, with its layers left where they are (layers.RemoteLayer) until a
// step that is not cached must run on them, or an output needs their
// bytes. A layer that cannot be fetched, or whose bytes do not match its
// digests, is dropped with a warning, with every entry that needs it, and
// the build walks the plan again: what it built is in the local cache by
// then, and the steps that made the bad layer now run.

// Shared is the build's --cache-from and --cache-to.
type Shared struct {
	From, To []Spec
	Insecure []string // --insecure-registry

	loaded  bool
	entries map[string]sharedEntry
	records map[string]*StageRecord // recordName -> record
	layers  map[v1.Hash]string      // diffID -> source name
	bad     map[v1.Hash]bool

	hits    []*Entry        // entries used from an import, this build
	classic []*ClassicImage // plain images (classic.go)
	attempt int             // the walk of the plan (Walk)
	ctx     context.Context // the build's: a cancel stops its downloads

	// Downloaded counts the layer bytes fetched lazily.
	Downloaded int64
	Fetched    int
}

type sharedEntry struct {
	ent    *Entry
	source string
}

func recordName(dockerfile, stage string) string {
	return filepath.Base(dockerfile) + "\x00" + stage
}

// LazyError is a remote layer that could not be had.
type LazyError struct {
	DiffID v1.Hash
	Err    error
}

func (e *LazyError) Error() string { return e.Err.Error() }
func (e *LazyError) Unwrap() error { return e.Err }

// Import reads every --cache-from once: its entries and records, never
// a layer (each is added to s as a remote layer). warn says what could
// not be used.
func (c *Shared) Import(ctx context.Context, s *layers.Store, warn func(string)) {
	if c == nil || c.loaded {
		return
	}
	c.loaded = true
	c.entries, c.records, c.layers, c.bad = map[string]sharedEntry{}, map[string]*StageRecord{}, map[v1.Hash]string{}, map[v1.Hash]bool{}
	for _, spec := range c.From {
		name := spec.Name()
		doc, blobs, check, err := read(ctx, spec, c.Insecure)
		if err != nil {
			warn(fmt.Sprintf("--cache-from %s: %v: not used", name, err))
			continue
		}
		// Layers: each blob must be there with its size (HEAD, or a stat),
		// else the entries that need it are skipped.
		usable := map[v1.Hash]bool{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for _, l := range doc.Layers {
			if l.Digest.Algorithm != "sha256" || len(l.Digest.Hex) != 64 || l.DiffID.Algorithm != "sha256" || len(l.DiffID.Hex) != 64 || l.Size < 0 {
				warn(fmt.Sprintf("--cache-from %s: a layer record is corrupt (diffID %q, digest %q): skipped", name, l.DiffID, l.Digest))
				continue
			}
			if s.HasLayer(l.DiffID) {
				usable[l.DiffID] = true
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				err := check(l)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					warn(fmt.Sprintf("--cache-from %s: layer %s: %v: the steps that need it are built", name, ShortDigest(l.DiffID.String()), err))
					return
				}
				usable[l.DiffID] = true
				s.AddRemote(layers.RemoteLayer{DiffID: l.DiffID, Digest: l.Digest, CompressedSize: l.Size, Size: l.TarSize,
					MediaType: l.MediaType, Blob: blobs(l), Source: name})
				c.layers[l.DiffID] = name
			}()
		}
		wg.Wait()
		if doc.image != nil {
			c.classic = append(c.classic, &ClassicImage{Source: name, Config: doc.image})
		}
		bad := 0
		for i := range doc.Entries {
			ent := doc.Entries[i]
			if !validEntry(&ent, usable, s) {
				bad++
				continue
			}
			if _, dup := c.entries[ent.Key]; !dup {
				c.entries[ent.Key] = sharedEntry{ent: &ent, source: name}
			}
		}
		if bad > 0 {
			warn(fmt.Sprintf("--cache-from %s: %s corrupt or naming a missing layer: skipped (those steps run)", name, Plural(bad, "cache record")))
		}
		sums := importSums(doc.Sums, SumsDir(s.Root()))
		for i := range doc.Records {
			r := doc.Records[i]
			for j := range r.Steps {
				st := &r.Steps[j]
				st.Files, st.FromFiles = sums(st.Files), sums(st.FromFiles)
			}
			n := recordName(r.Dockerfile, r.Stage)
			if _, dup := c.records[n]; !dup {
				c.records[n] = &r
			}
		}
	}
}

// Lookup finds key in the imported caches: its entry, when every layer it
// needs can be had, and where it is from.
func (c *Shared) Lookup(key string, s *layers.Store) (*Entry, string, bool) {
	if c == nil {
		return nil, "", false
	}
	se, ok := c.entries[key]
	if !ok {
		return nil, "", false
	}
	for _, d := range se.ent.LayerIDs() {
		if c.bad[d] || !s.Available(d) {
			return nil, "", false
		}
	}
	c.hits = append(c.hits, se.ent)
	return se.ent, se.source, true
}

// Record is an imported cache's record of a stage, for a machine
// that never built it: misses then say what differs from that build.
func (c *Shared) Record(df, stage string) *StageRecord {
	if c == nil {
		return nil
	}
	return c.records[recordName(df, stage)]
}

// Entry is the imported entry of key (nil when none).
func (c *Shared) Entry(key string) *Entry {
	if c == nil {
		return nil
	}
	if se, ok := c.entries[key]; ok {
		return se.ent
	}
	return nil
}

// Miss says why key's imported entry was not a hit ("" when
// there is none): a layer it needs failed (see the warning).
func (c *Shared) Miss(key string) string {
	if c == nil {
		return ""
	}
	se, ok := c.entries[key]
	if !ok {
		return ""
	}
	for _, d := range se.ent.LayerIDs() {
		if c.bad[d] {
			return "in " + se.source + ", but its layer " + ShortDigest(d.String()) + " could not be used (see the warning)"
		}
	}
	return ""
}

// Hit notes an entry used from an import (made from a plain image's
// history: the executor's classicLookup), kept locally once its layers
// are here (KeepHits).
func (c *Shared) Hit(ent *Entry) { c.hits = append(c.hits, ent) }

// Bad: the layer d of an import could not be had.
func (c *Shared) Bad(d v1.Hash) bool { return c.bad[d] }

// Classic are the plain images of --cache-from (classic.go).
func (c *Shared) Classic() []*ClassicImage {
	if c == nil {
		return nil
	}
	return c.classic
}

// Begin starts a build (a Session's next one): its downloads stop when
// ctx is done, and its counts and hits start from none.
func (c *Shared) Begin(ctx context.Context) {
	c.Downloaded, c.Fetched, c.hits = 0, 0, nil
	c.ctx = ctx
}

// Walk notes the walk of the plan a build is at (0 first); Attempt tells it.
func (c *Shared) Walk(attempt int) { c.attempt = attempt }

// Attempt is the walk of the plan the build is at (Walk).
func (c *Shared) Attempt() int { return c.attempt }

// fetchCtx is the context of the build's downloads.
func (c *Shared) fetchCtx() context.Context {
	if c == nil || c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// Fetch downloads the layers of diffIDs that are still remote in s, three
// at a time (as a pull), announcing each first (announce may be nil); the
// first that fails is a *LazyError. c may be nil (no shared cache).
func (c *Shared) Fetch(s *layers.Store, diffIDs []v1.Hash, announce func(v1.Hash, layers.RemoteLayer)) error {
	var todo []v1.Hash
	for _, d := range diffIDs {
		rl, ok := s.Remote(d)
		if !ok || slices.Contains(todo, d) {
			continue
		}
		todo = append(todo, d)
		if announce != nil {
			announce(d, rl)
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		first   *LazyError
		stopped error
		sem     = make(chan struct{}, 3)
		ctx     = c.fetchCtx()
	)
	for _, d := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			n, err := s.FetchRemoteContext(ctx, d, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && ctx.Err() != nil { // stopped: the layer is not bad
				stopped = ctx.Err()
				return
			}
			if err != nil {
				s.DropRemote(d)
				if c != nil {
					c.bad[d] = true
				}
				if first == nil {
					first = &LazyError{DiffID: d, Err: err}
				}
				return
			}
			if c != nil {
				c.Downloaded += n
				c.Fetched++
			}
		}()
	}
	wg.Wait()
	if stopped != nil {
		return stopped
	}
	if first != nil {
		return first
	}
	return nil
}

// KeepHits records in the local cache the imported entries this build
// used whose layers are all here now, so the next build on this root
// hits without asking the shared cache.
func (c *Shared) KeepHits(l Local) {
	for _, ent := range c.hits {
		local := true
		for _, d := range ent.LayerIDs() {
			local = local && l.Store.HasLayer(d)
		}
		if local {
			l.Save(ent)
		}
	}
}

// NeedsFS: the step reads or writes its parent's filesystem, so the
// layers of its parent still remote are fetched before it runs.
func NeedsFS(c instructions.Command) bool {
	switch c.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
		return true
	}
	return false
}
