package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
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

// SharedCache is the build's --cache-from and --cache-to.
type SharedCache struct {
	From, To []CacheSpec
	Insecure []string // --insecure-registry

	loaded  bool
	entries map[string]sharedEntry
	records map[string]*stageRecord // recordName -> record
	layers  map[v1.Hash]string      // diffID -> source name
	bad     map[v1.Hash]bool

	hits    []*CacheEntry   // entries used from an import, this build
	classic []*classicImage // plain images (classiccache.go)
	attempt int             // the walk of the plan (buildStages)
	ctx     context.Context // the build's: a cancel stops its downloads

	// Downloaded counts the layer bytes fetched lazily.
	Downloaded int64
	Fetched    int
}

type sharedEntry struct {
	ent    *CacheEntry
	source string
}

func recordName(dockerfile, stage string) string {
	return filepath.Base(dockerfile) + "\x00" + stage
}

// lazyError is a remote layer that could not be had.
type lazyError struct {
	diffID v1.Hash
	err    error
}

func (e *lazyError) Error() string { return e.err.Error() }
func (e *lazyError) Unwrap() error { return e.err }

func (e *Executor) warn(msg string) {
	e.emit(event.Warning{Base: event.Now(), Message: msg})
}

// importCache reads every --cache-from once: its entries and records,
// never a layer.
func (e *Executor) importCache(ctx context.Context) {
	c := e.Cache
	if c == nil || c.loaded {
		return
	}
	c.loaded = true
	c.entries, c.records, c.layers, c.bad = map[string]sharedEntry{}, map[string]*stageRecord{}, map[v1.Hash]string{}, map[v1.Hash]bool{}
	for _, spec := range c.From {
		name := specName(spec)
		doc, blobs, check, err := e.readCache(ctx, spec)
		if err != nil {
			e.warn(fmt.Sprintf("--cache-from %s: %v: not used", name, err))
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
				e.warn(fmt.Sprintf("--cache-from %s: a layer record is corrupt (diffID %q, digest %q): skipped", name, l.DiffID, l.Digest))
				continue
			}
			if e.Store.HasLayer(l.DiffID) {
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
					e.warn(fmt.Sprintf("--cache-from %s: layer %s: %v: the steps that need it are built", name, shortDigest(l.DiffID.String()), err))
					return
				}
				usable[l.DiffID] = true
				e.Store.AddRemote(layers.RemoteLayer{DiffID: l.DiffID, Digest: l.Digest, CompressedSize: l.Size, Size: l.TarSize,
					MediaType: l.MediaType, Blob: blobs(l), Source: name})
				c.layers[l.DiffID] = name
			}()
		}
		wg.Wait()
		if doc.image != nil {
			c.classic = append(c.classic, &classicImage{source: name, cfg: doc.image})
		}
		bad := 0
		for i := range doc.Entries {
			ent := doc.Entries[i]
			if !validEntry(&ent, usable, e.Store) {
				bad++
				continue
			}
			if _, dup := c.entries[ent.Key]; !dup {
				c.entries[ent.Key] = sharedEntry{ent: &ent, source: name}
			}
		}
		if bad > 0 {
			e.warn(fmt.Sprintf("--cache-from %s: %s corrupt or naming a missing layer: skipped (those steps run)", name, plural(bad, "cache record")))
		}
		for i := range doc.Records {
			r := doc.Records[i]
			n := recordName(r.Dockerfile, r.Stage)
			if _, dup := c.records[n]; !dup {
				c.records[n] = &r
			}
		}
	}
}

// sharedLookup finds key in the imported caches.
func (e *Executor) sharedLookup(key string) (*CacheEntry, string, bool) {
	if e.Cache == nil {
		return nil, "", false
	}
	se, ok := e.Cache.entries[key]
	if !ok {
		return nil, "", false
	}
	for _, d := range se.ent.LayerIDs() {
		if e.Cache.bad[d] || !e.Store.Available(d) {
			return nil, "", false
		}
	}
	e.Cache.hits = append(e.Cache.hits, se.ent)
	return se.ent, se.source, true
}

// sharedRecord is an imported cache's record of a stage, for a machine
// that never built it: misses then say what differs from that build.
func (e *Executor) sharedRecord(df, stage string) *stageRecord {
	if e.Cache == nil {
		return nil
	}
	return e.Cache.records[recordName(df, stage)]
}

// needsFS: the step reads or writes its parent's filesystem.
func needsFS(c instructions.Command) bool {
	switch c.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
		return true
	}
	return false
}

// fetchCtx is the context of the build's downloads.
func (c *SharedCache) fetchCtx() context.Context {
	if c == nil || c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// fetch downloads the layers of diffIDs that are still remote, three at
// a time (as a pull); the first that fails is a *lazyError.
func (e *Executor) fetch(step int, diffIDs []v1.Hash) error {
	var todo []v1.Hash
	for _, d := range diffIDs {
		rl, ok := e.Store.Remote(d)
		if !ok || slices.Contains(todo, d) {
			continue
		}
		todo = append(todo, d)
		if step >= 0 {
			e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: fmt.Sprintf("downloading layer %s (%s) from %s", shortDigest(d.String()), event.HumanSize(rl.CompressedSize), rl.Source)})
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		first   *lazyError
		stopped error
		sem     = make(chan struct{}, 3)
		ctx     = e.Cache.fetchCtx()
	)
	for _, d := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			n, err := e.Store.FetchRemoteContext(ctx, d, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && ctx.Err() != nil { // stopped: the layer is not bad
				stopped = ctx.Err()
				return
			}
			if err != nil {
				e.Store.DropRemote(d)
				if e.Cache != nil {
					e.Cache.bad[d] = true
				}
				if first == nil {
					first = &lazyError{diffID: d, err: err}
				}
				return
			}
			if e.Cache != nil {
				e.Cache.Downloaded += n
				e.Cache.Fetched++
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

// fetchFor gets what a step that runs needs: its parent's layers and, for
// RUN --mount=from=STAGE, the stage's.
func (e *Executor) fetchFor(ctx context.Context, st *stageState, step int, c instructions.Command) error {
	if !needsFS(c) {
		return nil
	}
	if err := e.fetch(step, st.cfg.RootFS.DiffIDs); err != nil {
		return err
	}
	if r, ok := c.(*instructions.RunCommand); ok {
		for _, m := range instructions.GetMounts(r) {
			if m.From == "" {
				continue
			}
			if src, _, err := e.fromSource(ctx, step, m.From); err == nil {
				if err := e.fetch(step, src.cfg.RootFS.DiffIDs); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// buildStages builds the plan's stages; when a layer from a shared cache
// cannot be had, it is dropped with the entries that need it and the
// plan is walked again (what was built is in the local cache by then).
// The final image's remote layers are fetched when an output or the
// local store needs them.
func (e *Executor) buildStages(ctx context.Context) error {
	e.importCache(ctx)
	if e.Cache != nil { // a Session's next build
		e.Cache.Downloaded, e.Cache.Fetched, e.Cache.hits = 0, 0, nil
		e.Cache.ctx = ctx
	}
	for attempt := 0; ; attempt++ {
		if e.Cache != nil {
			e.Cache.attempt = attempt
		}
		err := e.walkStages(ctx)
		var le *lazyError
		if err == nil || !errors.As(err, &le) || attempt >= maxWalks-1 || ctx.Err() != nil {
			return err
		}
		e.warn(fmt.Sprintf("--cache-from: %v: the layer is not used; building again without the cache records that need it", le.err))
		e.stages = map[int]*stageState{}
		e.cached, e.built = 0, 0
	}
}

// maxWalks bounds the walks of the plan when shared-cache layers fail.
const maxWalks = 8

// rewalks: err is a shared-cache layer that could not be had, and the
// plan will be walked again without it: the step that needed it did not
// fail (dispatch sends no StepFailed; the warning and the step's real
// outcome in the next walk tell what happened).
func (e *Executor) rewalks(ctx context.Context, err error) bool {
	var le *lazyError
	return errors.As(err, &le) && e.Cache != nil && e.Cache.attempt < maxWalks-1 && ctx.Err() == nil
}

func (e *Executor) walkStages(ctx context.Context) error {
	if err := e.runStages(ctx); err != nil { // parallel.go
		return err
	}
	if !e.keepRemote() {
		step := -1
		if t := e.Plan.Stages[e.Plan.Target]; len(t.Steps) > 0 {
			step = t.Steps[len(t.Steps)-1]
		}
		return e.fetch(step, e.stages[e.Plan.Target].cfg.RootFS.DiffIDs)
	}
	return nil
}

// keepRemote: the final image may keep remote layers: every output is a
// push (the registry has them or mounts them) and nothing else needs
// the bytes.
func (e *Executor) keepRemote() bool {
	if len(e.Opt.Outputs) == 0 {
		return false
	}
	for _, o := range e.Opt.Outputs {
		if o.Type != "registry" {
			return false
		}
	}
	return true
}

// anyRemote: some of diffIDs are still remote.
func (e *Executor) anyRemote(diffIDs []v1.Hash) bool {
	for _, d := range diffIDs {
		if _, ok := e.Store.Remote(d); ok {
			return true
		}
	}
	return false
}

// afterOutputs writes every --cache-to, and says so when the image was
// pushed without its layers coming here (the local name is then not
// kept: its layers are in the registry only).
func (e *Executor) afterOutputs(ctx context.Context, res *Result) error {
	if e.anyRemote(res.Config.RootFS.DiffIDs) && len(res.Tags) > 0 {
		e.Store.Untag(res.Tags...)
		e.warn(fmt.Sprintf("the image was pushed with layers that stayed in the registry (every step came from --cache-from), so it is not kept in the local store under %s: strata pull it to have it here", strings.Join(res.Tags, ", ")))
		res.Tags = nil
	}
	if e.Cache == nil {
		return nil
	}
	e.keepHits()
	if t := e.Plan.Stages[e.Plan.Target]; e.Cache.Downloaded > 0 && len(t.Steps) > 0 {
		e.emit(event.StepLog{Base: event.Now(), Step: t.Steps[len(t.Steps)-1], Stream: "info", Line: fmt.Sprintf("shared cache: %s downloaded (%s)", event.HumanSize(e.Cache.Downloaded), plural(e.Cache.Fetched, "layer"))})
	}
	for _, spec := range e.Cache.To {
		if spec.Type == "inline" {
			continue // written with the push (inlineAnnotations)
		}
		doc, ls, err := e.cacheDoc(spec.Mode, true)
		if err != nil {
			return fmt.Errorf("--cache-to %s: %w", specName(spec), err)
		}
		if err := e.writeCache(ctx, spec, doc, ls); err != nil {
			return fmt.Errorf("--cache-to %s: %w", specName(spec), err)
		}
	}
	return nil
}

// InlineCache is the annotation a push carries for --cache-to
// type=inline (nil without it).
func (e *Executor) InlineCache() map[string]string {
	if e.Cache == nil || !slices.ContainsFunc(e.Cache.To, func(c CacheSpec) bool { return c.Type == "inline" }) {
		return nil
	}
	doc, _, err := e.cacheDoc("min", false)
	if err != nil {
		e.warn("--cache-to type=inline: " + err.Error())
		return nil
	}
	b, warn, err := fitInline(doc, maxInlineCache) // inlinesize.go
	if err != nil {
		e.warn("--cache-to type=inline: " + err.Error())
		return nil
	}
	if warn != "" {
		e.warn(warn)
	}
	return map[string]string{InlineCacheAnnotation: string(b)}
}

// cacheDoc collects this build's entries (mode min: the target stage's
// steps; max: every stage's), the records, and with layers, each layer
// as a blob to write.
func (e *Executor) cacheDoc(mode string, withLayers bool) (*cacheDoc, []v1.Layer, error) {
	doc := &cacheDoc{Version: 1, Mode: mode}
	seen := map[string]bool{}
	var diffIDs []v1.Hash
	for _, si := range e.Plan.Order {
		st := e.stages[si]
		if st == nil || (mode == "min" && si != e.Plan.Target) {
			continue
		}
		for _, rs := range st.record {
			if seen[rs.Key] || rs.Unfinished {
				continue
			}
			ent := e.entryFor(rs.Key)
			if ent == nil {
				continue
			}
			seen[rs.Key] = true
			doc.Entries = append(doc.Entries, *ent)
			for _, d := range ent.LayerIDs() {
				if !slices.Contains(diffIDs, d) {
					diffIDs = append(diffIDs, d)
				}
			}
		}
		df, name := e.stageID(st.stage)
		doc.Records = append(doc.Records, stageRecord{Dockerfile: filepath.Base(df), Stage: name, Steps: st.record, Time: e.start.UTC()})
	}
	if !withLayers {
		return doc, nil, nil
	}
	var ls []v1.Layer
	for _, d := range diffIDs {
		if rl, ok := e.Store.Remote(d); ok {
			doc.Layers = append(doc.Layers, cacheLayer{DiffID: d, Digest: rl.Digest, Size: rl.CompressedSize, TarSize: rl.Size, MediaType: rl.MediaType})
			ls = append(ls, rl.Blob)
			continue
		}
		meta, err := e.Store.CompressLayer(d)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %s: %w", d, err)
		}
		desc := v1.Descriptor{Digest: meta.Compressed, Size: meta.CompressedSize, MediaType: types.OCILayer}
		doc.Layers = append(doc.Layers, cacheLayer{DiffID: d, Digest: meta.Compressed, Size: meta.CompressedSize, TarSize: meta.Size, MediaType: types.OCILayer})
		s := e.Store
		ls = append(ls, registry.NewBlobLayer(desc, func() (io.ReadCloser, error) { return s.OpenBlobVerified(meta.Compressed) }))
	}
	return doc, ls, nil
}

// entryFor is the cache entry of key: the local one, else an imported one.
func (e *Executor) entryFor(key string) *CacheEntry {
	if b, err := os.ReadFile(keyFile(e.Store.Root(), key)); err == nil {
		var ent CacheEntry
		if json.Unmarshal(b, &ent) == nil && ent.wellFormed() && ent.Key == key {
			return &ent
		}
	}
	if e.Cache != nil {
		if se, ok := e.Cache.entries[key]; ok {
			return se.ent
		}
	}
	return nil
}

// there is none): a layer it needs failed (see the warning).
func (e *Executor) sharedMiss(key string) string {
	if e.Cache == nil {
		return ""
	}
	se, ok := e.Cache.entries[key]
	if !ok {
		return ""
	}
	for _, d := range se.ent.LayerIDs() {
		if e.Cache.bad[d] {
			return "in " + se.source + ", but its layer " + shortDigest(d.String()) + " could not be used (see the warning)"
		}
	}
	return ""
}

// keepHits records in the local cache the imported entries this build
// used whose layers are all here now, so the next build on this root
// hits without asking the shared cache.
func (e *Executor) keepHits() {
	for _, ent := range e.Cache.hits {
		local := true
		for _, d := range ent.LayerIDs() {
			local = local && e.Store.HasLayer(d)
		}
		if local {
			e.saveCache(ent)
		}
	}
}

// resolveLazy resolves a registry base image for a build that imports a
// shared cache: its manifest and config only, its layers left in the
// registry until a step that runs or an output needs them (a build whose
// every step hits and that pushes downloads none). false: not such a
// build, or the registry could not answer (the usual pull then says why).
func (e *Executor) resolveLazy(ctx context.Context, step int, ref string, o registry.Options) (*v1.ConfigFile, bool) {
	if e.Cache == nil || len(e.Cache.From) == 0 {
		return nil, false
	}
	res, err := registry.ResolveLazy(ctx, e.Store, ref, o)
	if err != nil {
		return nil, false
	}
	if !res.Local {
		e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: fmt.Sprintf("resolved %s (%s): its layers stay in the registry until a step needs them", res.Ref.Name, shortDigest(res.Manifest.String()))})
	}
	if res.Warning != "" {
		e.emit(event.Warning{Base: event.Now(), Rule: "InvalidBaseImagePlatform", Message: res.Warning, Line: e.Plan.Steps[step].StartLine})
	}
	return res.Config, true
}
