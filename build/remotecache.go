package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
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

const (
	// CacheArtifactType is the OCI 1.1 artifactType of a strata cache.
	CacheArtifactType = "application/vnd.strata.cache.v1"
	// CacheConfigType is the media type of its config blob (a cacheDoc).
	CacheConfigType = "application/vnd.strata.cache.config.v1+json"
	// InlineCacheAnnotation holds a cacheDoc in a pushed image's manifest.
	InlineCacheAnnotation = "dev.strata.cache.v1"
	// cacheLayoutName names the cache in an OCI layout's index.json.
	cacheLayoutName = "strata-cache"
	maxCacheDoc     = 64 << 20
)

// CacheSpec is one --cache-to or --cache-from value.
type CacheSpec struct {
	Type string // registry, local, inline
	Ref  string // type=registry
	Dir  string // type=local: dest (export) or src (import)
	Mode string // min (default) or max
}

// ParseCacheSpec reads a --cache-to (export) or --cache-from value in
// docker buildx's form: type=registry,ref=REF[,mode=min|max],
// type=local,dest=DIR|src=DIR, type=inline; a bare REF is
// type=registry,ref=REF (as buildx).
func ParseCacheSpec(flag, s string, export bool) (CacheSpec, error) {
	var c CacheSpec
	if !strings.Contains(s, "=") {
		c.Type, c.Ref = "registry", s
	}
	for _, kv := range strings.Split(s, ",") {
		if c.Ref == s {
			break
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("%s %q: %q is not KEY=VALUE (e.g. type=registry,ref=REGISTRY/REPO:TAG)", flag, s, kv)
		}
		switch k {
		case "type":
			c.Type = v
		case "ref":
			c.Ref = v
		case "dest":
			c.Dir = v
		case "src":
			c.Dir = v
		case "mode":
			c.Mode = v
		case "oci-mediatypes", "image-manifest", "compression", "ignore-error":
			// buildx options strata's format makes moot: accepted.
		default:
			return c, fmt.Errorf("%s %q: unknown key %q (want type, ref, dest, src, mode)", flag, s, k)
		}
	}
	if c.Mode == "" {
		c.Mode = "min"
	}
	if c.Mode != "min" && c.Mode != "max" {
		return c, fmt.Errorf("%s %q: mode=%s: want min (the final stage's steps) or max (every stage's)", flag, s, c.Mode)
	}
	switch c.Type {
	case "registry":
		if c.Ref == "" {
			return c, fmt.Errorf("%s %q: type=registry needs ref=REGISTRY/REPOSITORY:TAG", flag, s)
		}
		if _, err := registry.Parse(c.Ref); err != nil {
			return c, fmt.Errorf("%s %q: ref=%s: %w", flag, s, c.Ref, err)
		}
	case "local":
		if c.Dir == "" {
			if export {
				return c, fmt.Errorf("%s %q: type=local needs dest=DIR", flag, s)
			}
			return c, fmt.Errorf("%s %q: type=local needs src=DIR", flag, s)
		}
	case "inline":
		if !export {
			return c, fmt.Errorf("%s %q: an inline cache is read from the image: --cache-from type=registry,ref=IMAGE", flag, s)
		}
		if c.Mode == "max" {
			return c, fmt.Errorf("%s %q: type=inline holds the final stage's steps only (mode=min); use type=registry or type=local for mode=max", flag, s)
		}
	case "":
		return c, fmt.Errorf("%s %q: missing type= (registry, local or inline)", flag, s)
	default:
		return c, fmt.Errorf("%s %q: type=%s: want registry, local or inline", flag, s, c.Type)
	}
	return c, nil
}

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

// cacheDoc is the config blob of a cache artifact (docs/cache.md).
type cacheDoc struct {
	Version int           `json:"version"`
	Mode    string        `json:"mode,omitempty"`
	Entries []CacheEntry  `json:"entries"`
	Layers  []cacheLayer  `json:"layers,omitempty"`
	Records []stageRecord `json:"records,omitempty"`

	// image: a plain image's config (no records: classiccache.go).
	image *v1.ConfigFile
}

type cacheLayer struct {
	DiffID    v1.Hash         `json:"diff_id"`
	Digest    v1.Hash         `json:"digest"`
	Size      int64           `json:"size"`     // compressed
	TarSize   int64           `json:"tar_size"` // uncompressed
	MediaType types.MediaType `json:"media_type"`
}

func recordName(dockerfile, stage string) string {
	return filepath.Base(dockerfile) + "\x00" + stage
}

func specName(c CacheSpec) string {
	if c.Type == "local" {
		return c.Dir + " (type=local)"
	}
	return c.Ref
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

var hexKey = func(k string) bool {
	h, ok := strings.CutPrefix(k, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// validEntry: a well-formed key, a config, every layer usable. Records are
// data: they name layers by digest only, never a path.
func validEntry(ent *CacheEntry, usable map[v1.Hash]bool, s *layers.Store) bool {
	if !hexKey(ent.Key) || !ent.wellFormed() {
		return false
	}
	for _, d := range ent.LayerIDs() {
		if d.Algorithm != "sha256" || len(d.Hex) != 64 || (!usable[d] && !s.HasLayer(d)) {
			return false
		}
	}
	if ent.DiffID != "" {
		h, err := v1.NewHash(ent.DiffID)
		if err != nil || !slices.Contains(ent.LayerIDs(), h) {
			return false
		}
	}
	return true
}

// readCache reads a cache's document; blobs makes a layer's reader and
// check tells whether its blob is there.
func (e *Executor) readCache(ctx context.Context, spec CacheSpec) (*cacheDoc, func(cacheLayer) v1.Layer, func(cacheLayer) error, error) {
	switch spec.Type {
	case "local":
		return readLocalCache(spec.Dir)
	}
	cr, err := registry.OpenCache(spec.Ref, registry.Options{Insecure: e.Cache.Insecure})
	if err != nil {
		return nil, nil, nil, err
	}
	raw, mt, err := cr.Manifest(ctx)
	if errors.Is(err, registry.ErrNoCache) {
		return nil, nil, nil, errors.New("not found in the registry (a build with --cache-to writes it)")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if mt.IsIndex() {
		return nil, nil, nil, fmt.Errorf("is an image index (%s): name a cache (--cache-to) or a single image pushed with --cache-to type=inline", mt)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("manifest: %w", err)
	}
	doc, err := docOf(m, func(h v1.Hash, max int64) ([]byte, error) { return cr.ReadBlob(ctx, h, max) })
	if err != nil {
		return nil, nil, nil, err
	}
	// A layer is read when a step or the TUI needs it, maybe after this
	// build's context is done (a Session's next build, the Files tab).
	lctx := context.WithoutCancel(ctx)
	blobs := func(l cacheLayer) v1.Layer {
		rl, err := cr.Layer(lctx, l.Digest)
		if err != nil {
			return registry.NewBlobLayer(v1.Descriptor{Digest: l.Digest}, func() (io.ReadCloser, error) { return nil, err })
		}
		return rl
	}
	check := func(l cacheLayer) error { return cr.HasBlob(ctx, l.Digest, l.Size) }
	return doc, blobs, check, nil
}

// docOf finds the cache document of a manifest: a cache artifact's config,
// or an image's inline annotation (its layers are the image's).
func docOf(m *v1.Manifest, read func(v1.Hash, int64) ([]byte, error)) (*cacheDoc, error) {
	var doc cacheDoc
	switch {
	case m.Config.MediaType == CacheConfigType:
		b, err := read(m.Config.Digest, maxCacheDoc)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("cache document %s is corrupt (%v)", shortDigest(m.Config.Digest.String()), err)
		}
	case m.Annotations[InlineCacheAnnotation] != "", m.Config.MediaType.IsConfig():
		if a := m.Annotations[InlineCacheAnnotation]; a == "" {
			doc.Version = 1 // a plain image: matched by its history (classiccache.go)
		} else if err := json.Unmarshal([]byte(a), &doc); err != nil {
			return nil, fmt.Errorf("inline cache annotation is corrupt (%v)", err)
		}
		b, err := read(m.Config.Digest, 8<<20)
		if err != nil {
			return nil, err
		}
		cfg, err := v1.ParseConfigFile(strings.NewReader(string(b)))
		if err != nil {
			return nil, fmt.Errorf("image config: %w", err)
		}
		if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("image has %d layers but %d diffIDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
		}
		doc.Layers = nil
		for i, d := range m.Layers {
			doc.Layers = append(doc.Layers, cacheLayer{DiffID: cfg.RootFS.DiffIDs[i], Digest: d.Digest, Size: d.Size, MediaType: d.MediaType})
		}
		if m.Annotations[InlineCacheAnnotation] == "" {
			if len(cfg.History) == 0 {
				return nil, errors.New("holds no strata cache records and its config has no history, so no step can be proven the same: not used")
			}
			doc.image = cfg
		}
	default:
		return nil, errors.New("holds no strata cache records (neither a cache written by --cache-to nor an image pushed with --cache-to type=inline), so no step can be proven the same: not used")
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("cache format version %d, this strata reads version 1", doc.Version)
	}
	return &doc, nil
}

func readLocalCache(dir string) (*cacheDoc, func(cacheLayer) v1.Layer, func(cacheLayer) error, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("not an OCI layout (%v)", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, nil, err
	}
	read := func(h v1.Hash, max int64) ([]byte, error) {
		if h.Algorithm != "sha256" || len(h.Hex) != 64 {
			return nil, fmt.Errorf("digest %q: want sha256", h)
		}
		rc, err := p.Blob(h)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, max+1))
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > max {
			return nil, fmt.Errorf("blob %s is larger than %d bytes", h, max)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != h.Hex {
			return nil, fmt.Errorf("blob %s does not match its digest: corrupt", h)
		}
		return b, nil
	}
	for _, d := range im.Manifests {
		if d.ArtifactType != CacheArtifactType && d.Annotations["org.opencontainers.image.ref.name"] != cacheLayoutName {
			continue
		}
		b, err := read(d.Digest, 4<<20)
		if err != nil {
			return nil, nil, nil, err
		}
		m, err := v1.ParseManifest(strings.NewReader(string(b)))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("manifest: %w", err)
		}
		doc, err := docOf(m, read)
		if err != nil {
			return nil, nil, nil, err
		}
		blobs := func(l cacheLayer) v1.Layer {
			return registry.NewBlobLayer(v1.Descriptor{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType}, func() (io.ReadCloser, error) { return p.Blob(l.Digest) })
		}
		check := func(l cacheLayer) error {
			fi, err := os.Stat(filepath.Join(dir, "blobs", "sha256", l.Digest.Hex))
			if err != nil {
				return fmt.Errorf("blob %s is not in %s", l.Digest, dir)
			}
			if fi.Size() != l.Size {
				return fmt.Errorf("blob %s in %s is %d bytes, the cache says %d", l.Digest, dir, fi.Size(), l.Size)
			}
			return nil
		}
		return doc, blobs, check, nil
	}
	return nil, nil, nil, fmt.Errorf("no strata cache in its index.json (a build with --cache-to type=local,dest=%s writes one)", dir)
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

// manifests of the artifact: with the OCI 1.1 artifactType, and the
// fallback without it.
func cacheManifests(config []byte, ls []v1.Layer) (v1.Descriptor, []byte, []byte, error) {
	sum := sha256.Sum256(config)
	cfg := v1.Descriptor{MediaType: CacheConfigType, Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}, Size: int64(len(config))}
	m := map[string]any{"schemaVersion": 2, "mediaType": types.OCIManifestSchema1, "artifactType": CacheArtifactType, "config": cfg}
	var descs []v1.Descriptor
	for _, l := range ls {
		d, _ := l.Digest()
		n, _ := l.Size()
		mt, _ := l.MediaType()
		descs = append(descs, v1.Descriptor{MediaType: mt, Digest: d, Size: n})
	}
	if descs == nil {
		descs = []v1.Descriptor{}
	}
	m["layers"] = descs
	with, err := json.Marshal(m)
	if err != nil {
		return cfg, nil, nil, err
	}
	delete(m, "artifactType")
	without, err := json.Marshal(m)
	return cfg, with, without, err
}

func (e *Executor) writeCache(ctx context.Context, spec CacheSpec, doc *cacheDoc, ls []v1.Layer) error {
	config, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	cfgDesc, with, without, err := cacheManifests(config, ls)
	if err != nil {
		return err
	}
	if spec.Type == "registry" {
		cr, err := registry.OpenCache(spec.Ref, registry.Options{Insecure: e.Cache.Insecure})
		if err != nil {
			return err
		}
		return cr.PutCache(ctx, ls, config, CacheConfigType, with, without)
	}
	// type=local: an OCI layout; the previous cache's entry is replaced.
	p, err := layout.FromPath(spec.Dir)
	if err != nil {
		if p, err = layout.Write(spec.Dir, empty.Index); err != nil {
			return err
		}
	}
	for _, l := range ls {
		d, _ := l.Digest()
		if _, err := os.Stat(filepath.Join(spec.Dir, "blobs", d.Algorithm, d.Hex)); err == nil {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = p.WriteBlob(d, rc)
		if err != nil {
			return err
		}
	}
	if err := p.WriteBlob(cfgDesc.Digest, io.NopCloser(strings.NewReader(string(config)))); err != nil {
		return err
	}
	sum := sha256.Sum256(with)
	md := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if err := p.WriteBlob(md, io.NopCloser(strings.NewReader(string(with)))); err != nil {
		return err
	}
	if err := p.RemoveDescriptors(match.Annotation("org.opencontainers.image.ref.name", cacheLayoutName)); err != nil {
		return err
	}
	return p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: md, Size: int64(len(with)), ArtifactType: CacheArtifactType,
		Annotations: map[string]string{"org.opencontainers.image.ref.name": cacheLayoutName}})
}

// sharedMiss says why an imported entry of key was not used ("" when
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
