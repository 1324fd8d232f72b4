package build

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/source"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
)

func (e *Executor) stageID(s *frontend.Stage) (string, string) {
	df := e.Opt.Dockerfile
	if df == "" {
		df = e.Plan.File
	}
	if abs, err := filepath.Abs(df); err == nil {
		df = abs
	}
	name := s.Name
	if name == "" {
		name = fmt.Sprint(s.Index)
	}
	if pl := StagePlatform(e.Plan, s); !platforms.Same(pl, platforms.Host()) {
		name += "@" + platforms.String(pl) // each platform's last build (platforms.go)
	}
	return df, name
}

func (e *Executor) local() cache.Local { return cache.Local{Store: e.Store} }

func (e *Executor) loadRecord(s *frontend.Stage) *cache.StageRecord {
	df, name := e.stageID(s)
	r, found := e.local().Record(df, name)
	if !found {
		return e.Cache.Record(df, name)
	}
	return r
}

func (e *Executor) saveRecord(st *stageState) {
	e.dedupe.release(st) // platforms.go
	if st == nil || len(st.record) == 0 {
		return
	}
	var pending *cache.RecordStep
	if st.pending != nil { // the step that failed or was cancelled
		pending = &cache.RecordStep{Inputs: *st.pending.in, Key: st.pending.key}
	}
	df, name := e.stageID(st.stage)
	e.local().SaveRecord(cache.NewRecord(df, name, st.record, pending, st.last, len(st.stage.Steps)))
}

// argsInEffect are the stage's ARG values that reach RUN environments and
// expansions; proxy args are left out of the key, as BuildKit does.
func (st *stageState) argsInEffect() map[string]string {
	m := map[string]string{}
	for _, a := range st.args {
		if a.Value != nil && !frontend.IsProxyArg(a.Key) {
			m[a.Key] = *a.Value
		}
	}
	return m
}

// inputs collects what a step depends on, reading the context where the
// step does (COPY/ADD sources, RUN bind mounts of the context).
func (e *Executor) inputs(ctx context.Context, st *stageState, step int, c instructions.Command) (*cache.Inputs, error) {
	in := &cache.Inputs{
		Text:      e.Plan.Steps[step].Text,
		Canonical: cache.Canonical(c),
		Parent:    st.key,
		Env:       slices.Clone(st.cfg.Config.Env),
		Args:      st.argsInEffect(),
	}
	if st.stage.Steps[0] == step {
		// An ONBUILD trigger, run under the FROM step: its own text.
		in.Text = "ONBUILD " + in.Canonical
	}
	files := &sums{dir: cache.SumsDir(e.Store.Root())} // the context's
	defer files.close()
	switch c := c.(type) {
	case *instructions.RunCommand:
		in.ArgsKeyed = true
		if e.Opt.Network != "" {
			in.Canonical += " default-network=" + e.Opt.Network
		}
		for _, m := range instructions.GetMounts(c) {
			if m.Type != instructions.MountTypeBind && !(m.Type == instructions.MountTypeCache && m.From != "") {
				continue
			}
			if m.From != "" {
				id, err := e.fromIdentity(ctx, step, m.From)
				if err != nil {
					return nil, err
				}
				in.From += m.From + "=" + id + ";"
				in.FromName = m.From
				continue
			}
			src := m.Source
			if src == "" {
				src = "/"
			}
			if err := e.sumContext(files, []string{src}, nil); err != nil {
				return nil, fmt.Errorf("--mount=type=bind,source=%s: %w", m.Source, err)
			}
		}
	case *instructions.CopyCommand:
		if c.From != "" {
			id, err := e.fromIdentity(ctx, step, c.From)
			if err != nil {
				return nil, err
			}
			in.From, in.FromName = id, c.From
			if err := e.sumFrom(ctx, step, in, c.From, c.SourcePaths, c.ExcludePatterns); err != nil {
				return nil, err
			}
		} else if err := e.sumContext(files, c.SourcePaths, c.ExcludePatterns); err != nil {
			return nil, err
		}
	case *instructions.AddCommand:
		var local []string
		for _, s := range c.SourcePaths {
			if isURL(s) {
				if c.Checksum == "" {
					in.Uncacheable = "ADD " + s + " is fetched on every build (give --checksum=sha256:… to cache it)"
				}
				continue
			}
			local = append(local, s)
		}
		if len(local) > 0 {
			if err := e.sumContext(files, local, c.ExcludePatterns); err != nil {
				return nil, err
			}
		}
	case *instructions.ArgCommand:
		// The values this ARG will take are part of its key.
		in.ArgsKeyed = true
		for _, kv := range c.Args {
			if frontend.IsProxyArg(kv.Key) {
				continue
			}
			if v, ok := e.Plan.BuildArgs[kv.Key]; ok {
				in.Args[kv.Key] = v
			} else if kv.Value != nil {
				in.Args[kv.Key] = *kv.Value
			}
		}
	case *instructions.WorkdirCommand:
		in.Canonical += " user=" + st.cfg.Config.User
	}
	var err error
	if in.Files, err = files.finish(); err != nil {
		return nil, err
	}
	return in, nil
}

// sums is where a step's source checksums are written: made on first use,
// finished into a cache.Sums once the step's sources are all in.
type sums struct {
	dir string
	w   *cache.SumsWriter
}

func (s *sums) writer() (*cache.SumsWriter, error) {
	if s.w == nil {
		w, err := cache.NewSumsWriter(s.dir)
		if err != nil {
			return nil, err
		}
		s.w = w
	}
	return s.w, nil
}

// finish is the sums written, nil when none were.
func (s *sums) finish() (*cache.Sums, error) {
	if s.w == nil {
		return nil, nil
	}
	w := s.w
	s.w = nil
	return w.Finish()
}

func (s *sums) close() {
	if s.w != nil {
		s.w.Close()
	}
}

func (e *Executor) sumContext(out *sums, args, exclude []string) error {
	if e.statCache == nil {
		e.statCache = source.OpenStatCache(e.Store.Root(), e.Opt.ContextDir)
	}
	excl, err := excludeMatcher(exclude)
	if err != nil {
		return err
	}
	cs, err := source.NewContext(e.Opt.ContextDir, e.Plan.Ignore, excl)
	if err != nil {
		return err
	}
	defer cs.Close()
	w, err := out.writer()
	if err != nil {
		return err
	}
	return e.statCache.ContextSums(w, cs, args)
}

// sumFrom checksums what COPY --from at plan step step reads from a stage
// or an image.
func (e *Executor) sumFrom(ctx context.Context, step int, in *cache.Inputs, from string, args, exclude []string) error {
	if e.statCache == nil {
		e.statCache = source.OpenStatCache(e.Store.Root(), e.Opt.ContextDir)
	}
	excl, err := excludeMatcher(exclude)
	if err != nil {
		return err
	}
	if src, _, err := e.fromSource(ctx, step, from); err == nil {
		if err := e.fetch(step, src.cfg.RootFS.DiffIDs); err != nil {
			return err
		}
	}
	v, err := e.fromView(ctx, step, from)
	if err != nil {
		return err
	}
	out := &sums{dir: cache.SumsDir(e.Store.Root())}
	defer out.close()
	w, err := out.writer()
	if err != nil {
		return err
	}
	if err := e.statCache.ViewSums(w, source.NewView(v, excl), args); err != nil {
		return fmt.Errorf("--from=%s: %w", from, err)
	}
	in.FromFiles, err = out.finish()
	return err
}

// fromIdentity names what --from at plan step step reads: a stage's key,
// or an image's config digest.
func (e *Executor) fromIdentity(ctx context.Context, step int, from string) (string, error) {
	st, j, err := e.fromSource(ctx, step, from)
	if err != nil {
		return "", err
	}
	if j >= 0 {
		return "stage:" + st.key, nil
	}
	return "image:" + configID(st.cfg), nil
}

// reason explains why a step is built: what differs from the same step
// of the last build of this stage.
func (e *Executor) reason(st *stageState, in *cache.Inputs) string {
	if r := e.noCache(st.pendingStep); r != "" {
		return r
	}
	return cache.Reason(st.last, st.seq, in, e.Cache.Miss)
}

// tryCache computes the step's key and, on a hit, applies the recorded
// result and reports StepCached. On a miss it leaves the step pending
// with its reason, for finishBuilt.
func (e *Executor) tryCache(ctx context.Context, st *stageState, step int, c instructions.Command) (bool, error) {
	in, err := e.inputs(ctx, st, step, c)
	if err != nil {
		return false, err
	}
	key := in.Key()
	st.pendingStep = step
	if err := e.dedupe.acquire(ctx, st, key); err != nil { // platforms.go
		return false, err
	}
	if e.noCache(step) == "" && in.Uncacheable == "" {
		if ent, ok := e.local().Lookup(key); ok {
			if ent, ok := e.resolveEntry(st, ent); ok {
				e.applyCached(st, step, in, key, ent, cache.HitNote(st.last, st.seq, in))
				return true, nil
			}
		}
		if ent, src, ok := e.Cache.Lookup(key, e.Store); ok {
			if ent, ok := e.resolveEntry(st, ent); ok {
				e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: "cache hit: from " + src})
				e.applyCached(st, step, in, key, ent, "from "+src)
				return true, nil
			}
		}
	}
	classicWhy := ""
	if e.noCache(step) == "" && in.Uncacheable == "" {
		var ent *cache.Entry
		var src string
		if ent, src, classicWhy = e.classicLookup(st, step, c, key); ent != nil {
			e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: "cache hit: from " + src + " (its history: same parent, same instruction)"})
			e.applyCached(st, step, in, key, ent, "from "+src)
			return true, nil
		}
	}
	if err := e.fetchFor(ctx, st, step, c); err != nil { // layers still remote
		return false, err
	}
	st.pending = &pendingStep{in: in, key: key, reason: e.reason(st, in)}
	if classicWhy != "" && st.last == nil { // no record of this stage: the image's word
		st.pending.reason = classicWhy
	}
	st.pending.prev = cache.ChangedFrom(st.last, st.seq, st.pending.reason)
	e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: "cache miss: " + st.pending.reason})
	return false, nil
}

// resolveEntry is ent with its config: an entry recorded as a delta is
// applied to the config of the step before, the stage's, when that is
// the image it was taken from (the usual hit), else to that image
// rebuilt from the step images stored (layers.IntermediateConfig), and
// checked against the image id recorded. false: it cannot be rebuilt (the
// step runs).
func (e *Executor) resolveEntry(st *stageState, ent *cache.Entry) (*cache.Entry, bool) {
	if ent.Config != nil {
		return ent, true
	}
	if !ent.WellFormed() {
		return nil, false
	}
	// st.cfg is the step before's config (its snapshot's, which is
	// st.snap's image); applied so that the history it appends to is
	// shared, as a built step's is (snapConfig).
	var base *v1.ConfigFile
	if st.snap != nil && st.cfg != nil && e.snapID(st.snap) == ent.Parent {
		base = st.cfg
	} else if h, err := v1.NewHash(ent.Parent); err == nil && e.Store != nil {
		base, _ = e.Store.IntermediateConfig(h)
	}
	if base == nil {
		return nil, false
	}
	return ent.Apply(base, configID)
}

func (e *Executor) applyCached(st *stageState, step int, in *cache.Inputs, key string, ent *cache.Entry, note string) {
	defer e.dedupe.release(st) // a stage waiting for this key can hit now
	id := ent.ImageID
	if ent.Fresh { // rebuilt for this build, its id checked
		st.cfg = ent.Config
	} else {
		st.cfg = ent.Config.DeepCopy()
		stampCreated(st.cfg) // entries recorded before steps were stamped
		id = configID(st.cfg)
	}
	st.args = slices.Clone(ent.Args)
	st.cmdSet = ent.CmdSet
	st.argOver = nil
	for _, k := range ent.ArgOver {
		if st.argOver == nil {
			st.argOver = map[string]bool{}
		}
		st.argOver[k] = true
	}
	snap := newSnapshot(st, step)
	if ent.DiffID != "" {
		if h, err := v1.NewHash(ent.DiffID); err == nil {
			snap.DiffID = h
			if st, n, err := e.Store.LayerStats(h); err == nil { // the list itself is read when asked
				snap.Stats, snap.Files = &st, n
			}
		}
	}
	st.snap = snap
	st.key = key
	st.record = append(st.record, cache.RecordStep{Inputs: *in, Key: key})
	st.seq++
	e.count(true)
	hit := event.StepCached{Base: event.Now(), Step: step, Key: key, ImageID: id, DiffID: ent.DiffID,
		Size: ent.Size, Files: ent.Files, Reason: note, Snapshot: snap}
	if ent.DiffID != "" && ent.Size == 0 { // no size recorded: a plain --cache-from image's (cachestep.go: classicLookup)
		hit.Size, hit.Files, hit.Remote = e.local().UnrecordedLayer(snap)
	}
	e.emit(hit)
}

// finishBuilt completes a built step: its reason and key on the event,
// its result in the cache, its inputs in the stage's record.
func (e *Executor) finishBuilt(st *stageState, done *event.StepDone) {
	// Let go of the key once the entry is saved, not at the stage's next
	// step: that step may wait for the stage waiting for this key (COPY
	// --from of a stage whose first RUN is this one).
	defer e.dedupe.release(st)
	e.count(false)
	p := st.pending
	st.pending = nil
	if p == nil {
		return
	}
	done.Reason, done.Key, done.PrevInstruction = p.reason, p.key, p.prev
	st.key = p.key
	st.record = append(st.record, cache.RecordStep{Inputs: *p.in, Key: p.key})
	st.seq++
	if p.in.Uncacheable != "" {
		return
	}
	ent := &cache.Entry{Key: p.key, Step: p.in.Text, Args: slices.Clone(st.args), CmdSet: st.cmdSet, ArgOver: slices.Sorted(maps.Keys(st.argOver)),
		DiffID: done.DiffID, Size: done.Size, Files: done.Files, Stats: done.Stats, Created: time.Now().UTC()}
	// A step that made no layer records what it changed in the step
	// before's image; the others, and a step whose step before has no
	// image id, the config whole (json.Marshal reads it now: no copy).
	if snap := done.Snapshot; snap != nil && snap == st.snap && done.DiffID == "" && snap.Parent != nil && snap.Parent.Config != nil &&
		slices.Equal(snap.Parent.Config.RootFS.DiffIDs, st.cfg.RootFS.DiffIDs) {
		if prev, pid := snap.Parent, e.snapID(snap.Parent); pid != "" {
			if d, err := layers.DiffConfig(prev.Config, st.cfg); err == nil {
				ent.Delta, ent.Parent, ent.ImageID, ent.Layers = d, pid, done.ImageID, st.cfg.RootFS.DiffIDs
			}
		}
	}
	if ent.Delta == nil {
		ent.Config = st.cfg
	}
	if err := e.local().Save(ent); err != nil {
		e.emit(event.Warning{Base: event.Now(), Message: "could not record step in the cache: " + err.Error(), Line: e.Plan.Steps[done.Step].StartLine})
	}
}

func excludeMatcher(patterns []string) (*patternmatcher.PatternMatcher, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("--exclude: %w", err)
	}
	return pm, nil
}

// noCache says why a step may not come from cache ("" when it may).
func (e *Executor) noCache(step int) string {
	switch {
	case e.Opt.NoCache:
		return "--no-cache"
	case e.Opt.NoCacheFrom > 0 && step >= e.Opt.NoCacheFrom:
		if e.Opt.NoCacheFrom >= len(e.Plan.Steps) {
			return "rebuilt without cache"
		}
		s := e.Plan.Steps[e.Opt.NoCacheFrom]
		return fmt.Sprintf("rebuilt without cache from step %d/%d (%s)", s.Number, s.StageSteps, cache.Clip(s.Text, 40))
	}
	return ""
}

func (e *Executor) warn(msg string) {
	e.emit(event.Warning{Base: event.Now(), Message: msg})
}

// fetch downloads the layers of diffIDs that are still remote, three at
// a time (as a pull); the first that fails is a *cache.LazyError.
func (e *Executor) fetch(step int, diffIDs []v1.Hash) error {
	var announce func(v1.Hash, layers.RemoteLayer)
	if step >= 0 {
		announce = func(d v1.Hash, rl layers.RemoteLayer) {
			e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: fmt.Sprintf("downloading layer %s (%s) from %s", cache.ShortDigest(d.String()), event.HumanSize(rl.CompressedSize), rl.Source)})
		}
	}
	return e.Cache.Fetch(e.Store, diffIDs, announce)
}

// fetchFor gets what a step that runs needs: its parent's layers and, for
// RUN --mount=from=STAGE, the stage's.
func (e *Executor) fetchFor(ctx context.Context, st *stageState, step int, c instructions.Command) error {
	if !cache.NeedsFS(c) {
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
	e.Cache.Import(ctx, e.Store, e.warn)
	if e.Cache != nil { // a Session's next build
		e.Cache.Begin(ctx)
	}
	for attempt := 0; ; attempt++ {
		if e.Cache != nil {
			e.Cache.Walk(attempt)
		}
		err := e.walkStages(ctx)
		var le *cache.LazyError
		if err == nil || !errors.As(err, &le) || attempt >= maxWalks-1 || ctx.Err() != nil {
			return err
		}
		e.warn(fmt.Sprintf("--cache-from: %v: the layer is not used; building again without the cache records that need it", le.Err))
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
	var le *cache.LazyError
	return errors.As(err, &le) && e.Cache != nil && e.Cache.Attempt() < maxWalks-1 && ctx.Err() == nil
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
	e.Cache.KeepHits(e.local())
	if t := e.Plan.Stages[e.Plan.Target]; e.Cache.Downloaded > 0 && len(t.Steps) > 0 {
		e.emit(event.StepLog{Base: event.Now(), Step: t.Steps[len(t.Steps)-1], Stream: "info", Line: fmt.Sprintf("shared cache: %s downloaded (%s)", event.HumanSize(e.Cache.Downloaded), cache.Plural(e.Cache.Fetched, "layer"))})
	}
	return e.Cache.Export(ctx, e.local(), e.records)
}

// InlineCache is the annotation a push carries for --cache-to
// type=inline (nil without it).
func (e *Executor) InlineCache() map[string]string {
	if e.Cache == nil || !slices.ContainsFunc(e.Cache.To, func(c cache.Spec) bool { return c.Type == "inline" }) {
		return nil
	}
	a, warn, err := e.Cache.Inline(e.local(), e.records("min"))
	if err != nil {
		e.warn("--cache-to type=inline: " + err.Error())
		return nil
	}
	if warn != "" {
		e.warn(warn)
	}
	return a
}

// records are this build's stage records for a --cache-to document
// (mode min: the target stage's; max: every stage's).
func (e *Executor) records(mode string) []cache.StageRecord {
	var stages []cache.StageRecord
	for _, si := range e.Plan.Order {
		st := e.stages[si]
		if st == nil || (mode == "min" && si != e.Plan.Target) {
			continue
		}
		df, name := e.stageID(st.stage)
		stages = append(stages, cache.StageRecord{Dockerfile: filepath.Base(df), Stage: name, Steps: st.record, Time: e.start.UTC()})
	}
	return stages
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
		e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: fmt.Sprintf("resolved %s (%s): its layers stay in the registry until a step needs them", res.Ref.Name, cache.ShortDigest(res.Manifest.String()))})
	}
	if res.Warning != "" {
		e.emit(event.Warning{Base: event.Now(), Rule: "InvalidBaseImagePlatform", Message: res.Warning, Line: e.Plan.Steps[step].StartLine})
	}
	return res.Config, true
}

// classicLookup matches the step against the plain --cache-from images:
// a hit's entry and where it is from, or why the first image whose
// history reaches this step cannot prove it ("" when none reaches it).
func (e *Executor) classicLookup(st *stageState, step int, c instructions.Command, key string) (*cache.Entry, string, string) {
	if e.Cache == nil {
		return nil, "", ""
	}
	for _, im := range e.Cache.Classic() {
		h, l, ok := im.At(st.cfg)
		if !ok {
			continue
		}
		ent, why := e.classicStep(im, st, step, c, h, l)
		if ent != nil {
			ent.Key, ent.Step = key, e.Plan.Steps[step].Text
			e.Cache.Hit(ent) // kept locally once its layers are here (keepHits)
			return ent, im.Source, ""
		}
		if why != "" {
			return nil, "", why
		}
	}
	return nil, "", ""
}

func (e *Executor) classicStep(im *cache.ClassicImage, st *stageState, step int, c instructions.Command, h, l int) (*cache.Entry, string) {
	next := im.Config.History[h]
	withLayer := func(created string, mut func(*v1.ConfigFile)) (*cache.Entry, string) {
		if next.CreatedBy != created {
			return nil, ""
		}
		cfg := st.cfg.DeepCopy()
		if mut != nil {
			mut(cfg)
		}
		ent := &cache.Entry{Args: slices.Clone(st.args), CmdSet: st.cmdSet, ArgOver: slices.Sorted(maps.Keys(st.argOver)), Created: time.Now().UTC()}
		if !next.EmptyLayer {
			if l >= len(im.Config.RootFS.DiffIDs) {
				return nil, ""
			}
			d := im.Config.RootFS.DiffIDs[l]
			if e.Cache.Bad(d) || !e.Store.Available(d) {
				return nil, fmt.Sprintf("cache-from %s matches, but its layer %s could not be used (see the warning)", im.Source, cache.ShortDigest(d.String()))
			}
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, d)
			ent.DiffID = d.String()
		}
		cfg.History = append(cfg.History, next)
		stampCreated(cfg)
		ent.Config = cfg
		return ent, ""
	}
	if why := im.Unprovable(c); why != "" {
		return nil, why
	}
	switch c := c.(type) {
	case *instructions.RunCommand:
		return withLayer(runHistory(runArgs(st.cfg.Config.Shell, c), st), nil)
	case *instructions.WorkdirCommand:
		wd := c.Path
		if !path.IsAbs(wd) {
			wd = path.Join("/", st.cfg.Config.WorkingDir, wd)
		}
		return withLayer("WORKDIR "+wd, func(cfg *v1.ConfigFile) { cfg.Config.WorkingDir = wd })
	}
	// A metadata step: its config is made as a build makes it, on a copy
	// of the stage's state by an executor that tells nobody.
	cp := &stageState{stage: st.stage, cfg: st.cfg.DeepCopy(), args: slices.Clone(st.args), argOver: maps.Clone(st.argOver),
		cmdSet: st.cmdSet, snap: st.snap, platform: st.platform}
	r := &stepRun{e: &Executor{Plan: e.Plan, Opt: e.Opt}, st: cp, step: step, t0: time.Now()}
	e.frontMu.Lock() // the plan's lexer, as dispatch holds it for metadata steps
	err := dispatchMeta(r, c)
	e.frontMu.Unlock()
	if err != nil {
		return nil, ""
	}
	switch len(cp.cfg.History) {
	case h: // no history entry (ARG): nothing of the image to match
	case h + 1:
		if cp.cfg.History[h].CreatedBy != next.CreatedBy || !next.EmptyLayer {
			return nil, ""
		}
		cp.cfg.History[h] = next
		stampCreated(cp.cfg)
	default:
		return nil, ""
	}
	return &cache.Entry{Config: cp.cfg, Args: cp.args, CmdSet: cp.cmdSet, ArgOver: slices.Sorted(maps.Keys(cp.argOver)), Created: time.Now().UTC()}, ""
}
