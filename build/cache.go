package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
)

// The cache. Every step has a key: a hash chain of the parent step's key,
// the instruction after expansion, the build args in effect and, for
// steps that read files, a checksum of exactly what they read. A step
// whose key has an entry (and whose layer is still in the store) is not
// run: its recorded result is used. Next to the keys, the inputs of the
// last build of each Dockerfile stage are kept, so a miss can say what
// changed.
//
// On disk, under ROOT/cache:
//
//	keys/<key>.json       one CacheEntry per key (its mtime is its last use)
//	records/<id>.json     the last build of a Dockerfile stage (stageRecord)
//	files/<id>.json       stat cache of context file checksums
//
// Every file is written to a temp file and renamed, so two builds on one
// ROOT never see a half-written entry; the last writer of a record wins.

// CacheEntry is a step's recorded result. A step that made a layer
// records its config whole (Config); a step that made none (LABEL, ENV,
// CMD, …) records what it changed in the step before's config (Delta,
// from the image Parent, making the image ImageID, with the layers
// Layers), so N such steps store O(N) bytes, not N growing configs: a hit
// rebuilds the config from the stage's (resolveEntry).
type CacheEntry struct {
	Key     string                              `json:"key"`
	Step    string                              `json:"step"` // instruction text, for people reading the store
	Config  *v1.ConfigFile                      `json:"config,omitempty"`
	ImageID string                              `json:"image_id,omitempty"`
	Parent  string                              `json:"parent_image,omitempty"`
	Delta   *layers.ConfigDelta                 `json:"delta,omitempty"`
	Layers  []v1.Hash                           `json:"layers,omitempty"`
	Args    []instructions.KeyValuePairOptional `json:"args,omitempty"`
	CmdSet  bool                                `json:"cmd_set,omitempty"`
	ArgOver []string                            `json:"arg_over,omitempty"` // stageState.argOver
	DiffID  string                              `json:"diff_id,omitempty"`
	Size    int64                               `json:"size,omitempty"`
	Files   int                                 `json:"files,omitempty"`
	Stats   layers.ChangeStats                  `json:"stats"`
	Created time.Time                           `json:"created"`

	fresh bool // Config was rebuilt from Delta for this build (resolveEntry)
}

// wellFormed: the entry has a config, or a delta with the ids it joins.
func (c *CacheEntry) wellFormed() bool {
	if c.Config != nil {
		return true
	}
	return c.Delta != nil && hexKey(c.ImageID) && hexKey(c.Parent)
}

// LayerIDs are the layers of the entry's image.
func (c *CacheEntry) LayerIDs() []v1.Hash {
	if c.Config != nil {
		return c.Config.RootFS.DiffIDs
	}
	return c.Layers
}

// stepInputs is what a step's result depends on, kept per step of the
// last build to explain the next miss.
type stepInputs struct {
	Text      string            `json:"text"`      // the instruction as written
	Canonical string            `json:"canonical"` // after expansion, flags included
	Args      map[string]string `json:"args,omitempty"`
	// ArgsKeyed: the step sees the args (RUN, ARG), so they are in its key.
	ArgsKeyed bool     `json:"args_keyed,omitempty"`
	Env       []string `json:"env,omitempty"`
	Files     fileSums `json:"files,omitempty"`
	From      string   `json:"from,omitempty"` // --from / bind source identity
	// FromFiles: for COPY --from, what it copies (its key, not From).
	FromFiles fileSums `json:"from_files,omitempty"`
	FromName  string   `json:"from_name,omitempty"` // as written
	Base      string   `json:"base,omitempty"`      // FROM: the base's identity
	Parent    string   `json:"parent"`              // key of the step before
	// Uncacheable, when set, says why this step is always run.
	Uncacheable string `json:"uncacheable,omitempty"`
}

type recordStep struct {
	stepInputs
	Key string `json:"key"`
	// Unfinished: the step failed or was cancelled in that build.
	Unfinished bool `json:"unfinished,omitempty"`
}

type stageRecord struct {
	Dockerfile string       `json:"dockerfile"`
	Stage      string       `json:"stage"`
	Steps      []recordStep `json:"steps"`
	Time       time.Time    `json:"time"`
	// Stopped: that build ended (failed or cancelled) before the stage's
	// end, so steps past Steps were not seen rather than absent.
	Stopped bool `json:"stopped,omitempty"`
}

// cacheRoot is ROOT/cache.
func cacheRoot(s *layers.Store) string { return filepath.Join(s.Root(), "cache") }

func (in *stepInputs) key() string {
	h := sha256.New()
	fmt.Fprintf(h, "strata-cache-v1\x00%s\x00%s\x00", in.Parent, in.Canonical)
	keys := make([]string, 0, len(in.Args))
	for k := range in.Args {
		if !in.ArgsKeyed {
			break
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg\x00%s=%s\x00", k, in.Args[k])
	}
	if in.Files != nil {
		fmt.Fprintf(h, "files\x00%s\x00", in.Files.digest())
	}
	from := in.From
	if in.FromFiles != nil {
		// COPY --from is keyed on what it copies, not on the whole
		// source stage (as BuildKit's content-based key of a file op).
		from = "files:" + in.FromFiles.digest()
	}
	fmt.Fprintf(h, "from\x00%s\x00base\x00%s\x00", from, in.Base)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func keyFile(root, key string) string {
	return filepath.Join(root, "cache", "keys", strings.TrimPrefix(key, "sha256:")+".json")
}

// lookupCache finds a usable entry: recorded, and its layer still stored.
func (e *Executor) lookupCache(key string) (*CacheEntry, bool) {
	f := keyFile(e.Store.Root(), key)
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, false
	}
	var ent CacheEntry
	if json.Unmarshal(b, &ent) != nil || !ent.wellFormed() || ent.Key != key {
		return nil, false
	}
	for _, d := range ent.LayerIDs() {
		if !e.Store.HasLayer(d) {
			return nil, false
		}
	}
	now := time.Now()
	os.Chtimes(f, now, now) // last use, for prune --keep-storage
	return &ent, true
}

func (e *Executor) saveCache(ent *CacheEntry) error {
	b, err := json.Marshal(ent)
	if err != nil {
		return err
	}
	f := keyFile(e.Store.Root(), ent.Key)
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return err
	}
	return layers.WriteFileBytes(f, b)
}

// CacheEntries lists the cache's entries with their files' sizes and last
// use (for prune and reports).
func CacheEntries(s *layers.Store) ([]CacheFile, error) {
	dir := filepath.Join(cacheRoot(s), "keys")
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []CacheFile
	for _, d := range des {
		if !strings.HasSuffix(d.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, d.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var ent CacheEntry
		if json.Unmarshal(b, &ent) != nil || !ent.wellFormed() {
			out = append(out, CacheFile{Path: p}) // unreadable: prune removes it
			continue
		}
		fi, err := d.Info()
		if err != nil {
			continue
		}
		out = append(out, CacheFile{Path: p, Entry: &ent, LastUsed: fi.ModTime()})
	}
	return out, nil
}

// CacheFile is one stored cache entry.
type CacheFile struct {
	Path     string
	Entry    *CacheEntry // nil when unreadable
	LastUsed time.Time
}

func recordFile(root, dockerfile, stage string) string {
	h := sha256.Sum256([]byte(dockerfile + "\x00" + stage))
	return filepath.Join(root, "cache", "records", hex.EncodeToString(h[:16])+".json")
}

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

func (e *Executor) loadRecord(s *frontend.Stage) *stageRecord {
	df, name := e.stageID(s)
	b, err := os.ReadFile(recordFile(e.Store.Root(), df, name))
	if err != nil {
		return e.sharedRecord(df, name) // remotecache.go
	}
	var r stageRecord
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

func (e *Executor) saveRecord(st *stageState) {
	e.dedupe.release(st) // platforms.go
	if st == nil || len(st.record) == 0 {
		return
	}
	steps := st.record
	if st.pending != nil { // the step that failed or was cancelled
		steps = append(slices.Clone(steps), recordStep{stepInputs: *st.pending.in, Key: st.pending.key, Unfinished: true})
	}
	if st.last != nil && len(steps) < len(st.stage.Steps) && len(steps) < len(st.last.Steps) {
		// The stage stopped early: for the steps it did not reach, the
		// last build that ran them stays the reference.
		steps = append(steps, st.last.Steps[len(steps):]...)
	}
	df, name := e.stageID(st.stage)
	r := stageRecord{Dockerfile: df, Stage: name, Steps: steps, Time: time.Now().UTC(), Stopped: len(steps) < len(st.stage.Steps)}
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	f := recordFile(e.Store.Root(), df, name)
	if os.MkdirAll(filepath.Dir(f), 0o755) == nil {
		layers.WriteFileBytes(f, b)
	}
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

// canonical is an instruction after expansion, in a stable form: its
// exported fields (no source locations) and, for RUN, its flags.
func canonical(c instructions.Command) string {
	b, _ := json.Marshal(c)
	s := strings.ToUpper(c.Name()) + " " + string(b)
	if r, ok := c.(*instructions.RunCommand); ok {
		mb, _ := json.Marshal(instructions.GetMounts(r))
		s += " mounts=" + string(mb)
		s += " network=" + instructions.GetNetwork(r)
		s += " security=" + instructions.GetSecurity(r)
	}
	return s
}

// inputs collects what a step depends on, reading the context where the
// step does (COPY/ADD sources, RUN bind mounts of the context).
func (e *Executor) inputs(ctx context.Context, st *stageState, step int, c instructions.Command) (*stepInputs, error) {
	in := &stepInputs{
		Text:      e.Plan.Steps[step].Text,
		Canonical: canonical(c),
		Parent:    st.key,
		Env:       slices.Clone(st.cfg.Config.Env),
		Args:      st.argsInEffect(),
	}
	if st.stage.Steps[0] == step {
		// An ONBUILD trigger, run under the FROM step: its own text.
		in.Text = "ONBUILD " + in.Canonical
	}
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
			if err := e.sumContext(in, []string{src}, nil); err != nil {
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
		} else if err := e.sumContext(in, c.SourcePaths, c.ExcludePatterns); err != nil {
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
			if err := e.sumContext(in, local, c.ExcludePatterns); err != nil {
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
	return in, nil
}

func (e *Executor) sumContext(in *stepInputs, args, exclude []string) error {
	if e.statCache == nil {
		e.statCache = openStatCache(e.Store.Root(), e.Opt.ContextDir)
	}
	excl, err := excludeMatcher(exclude)
	if err != nil {
		return err
	}
	cs, err := newContextSource(e.Opt.ContextDir, e.Plan.Ignore, excl)
	if err != nil {
		return err
	}
	defer cs.close()
	sums, err := e.statCache.contextSums(cs, args)
	if err != nil {
		return err
	}
	if in.Files == nil {
		in.Files = sums // not a copy: a COPY of 100,000 files would hold two maps
		return nil
	}
	for k, v := range sums {
		in.Files[k] = v
	}
	return nil
}

// sumFrom checksums what COPY --from at plan step step reads from a stage
// or an image.
func (e *Executor) sumFrom(ctx context.Context, step int, in *stepInputs, from string, args, exclude []string) error {
	if e.statCache == nil {
		e.statCache = openStatCache(e.Store.Root(), e.Opt.ContextDir)
	}
	excl, err := excludeMatcher(exclude)
	if err != nil {
		return err
	}
	if src, _, err := e.fromSource(ctx, step, from); err == nil {
		if err := e.fetch(step, src.cfg.RootFS.DiffIDs); err != nil { // remotecache.go
			return err
		}
	}
	v, err := e.fromView(ctx, step, from)
	if err != nil {
		return err
	}
	sums, err := e.statCache.viewSums(&viewSource{view: v, excl: excl}, args)
	if err != nil {
		return fmt.Errorf("--from=%s: %w", from, err)
	}
	in.FromFiles = sums
	return nil
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

// changedFrom is the last build's instruction at the step when reason says
// the instruction changed, whole (the reason clips it), else "".
func changedFrom(st *stageState, reason string) string {
	if !strings.HasPrefix(reason, "instruction changed (was: ") || st.last == nil || st.seq >= len(st.last.Steps) {
		return ""
	}
	return st.last.Steps[st.seq].Text
}

// reason explains why a step is built: what differs from the same step
// of the last build of this stage.
func (e *Executor) reason(st *stageState, in *stepInputs) string {
	if r := e.noCache(st.pendingStep); r != "" {
		return r
	}
	if in.Uncacheable != "" {
		return in.Uncacheable
	}
	if st.last == nil {
		return "first build"
	}
	if st.seq >= len(st.last.Steps) {
		if st.last.Stopped {
			return "not built before: the last build stopped before this step"
		}
		return "new step (the last build had " + plural(len(st.last.Steps), "step") + " in this stage)"
	}
	prev := st.last.Steps[st.seq]
	if prev.Text != in.Text {
		return "instruction changed (was: " + clip(prev.Text, 80) + ")"
	}
	if prev.Base != in.Base && strings.HasPrefix(in.Base, "stage:") {
		return "stage " + in.FromName + " was rebuilt"
	}
	if prev.Base != in.Base {
		return "base image " + in.FromName + " now resolves to " + shortDigest(in.Base) + " (was " + shortDigest(prev.Base) + ")"
	}
	if in.ArgsKeyed {
		if r := diffArgs(prev.Args, in.Args); r != "" {
			return r
		}
	}
	if prev.Canonical != in.Canonical {
		if r := diffArgs(prev.Args, in.Args); r != "" {
			return r
		}
		if r := diffEnv(prev.Env, in.Env); r != "" {
			return r
		}
		return "instruction changed after expansion"
	}
	if in.FromFiles != nil && (prev.FromFiles != nil || prev.From == in.From) {
		if r := diffFiles(prev.FromFiles, in.FromFiles); r != "" {
			return "--from=" + in.FromName + ": " + r
		}
	} else if prev.From != in.From {
		return "--from=" + in.FromName + " changed (its content is not the same as last build)"
	}
	if r := diffFiles(prev.Files, in.Files); r != "" {
		return r
	}
	if prev.Parent != in.Parent {
		return "an earlier step was rebuilt"
	}
	if prev.Key == in.key() && prev.Unfinished {
		return "the last build did not finish this step (it failed or was cancelled)"
	}
	if prev.Key == in.key() {
		if r := e.sharedMiss(prev.Key); r != "" { // remotecache.go
			return r
		}
		return "not in cache any more (pruned, or its layer was removed)"
	}
	return "inputs changed"
}

func diffArgs(prev, cur map[string]string) string {
	var names []string
	for k := range cur {
		names = append(names, k)
	}
	for k := range prev {
		if _, ok := cur[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		a, hadA := prev[k]
		b, hasB := cur[k]
		switch {
		case hadA && hasB && a != b:
			return fmt.Sprintf("build arg %s changed: %s → %s", k, clip(a, 40), clip(b, 40))
		case !hadA && hasB:
			return fmt.Sprintf("build arg %s is now set (to %s)", k, clip(b, 40))
		case hadA && !hasB:
			return fmt.Sprintf("build arg %s is no longer set (was %s)", k, clip(a, 40))
		}
	}
	return ""
}

func diffEnv(prev, cur []string) string {
	pm := map[string]string{}
	for _, kv := range prev {
		k, v, _ := strings.Cut(kv, "=")
		pm[k] = v
	}
	cm := map[string]string{}
	for _, kv := range cur {
		k, v, _ := strings.Cut(kv, "=")
		cm[k] = v
	}
	var changed []string
	for k, v := range cm {
		if pv, ok := pm[k]; !ok || pv != v {
			changed = append(changed, k)
		}
	}
	for k := range pm {
		if _, ok := cm[k]; !ok {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return ""
	}
	sort.Strings(changed)
	return "ENV " + strings.Join(changed, ", ") + " changed"
}

// diffFiles names up to three changed paths and counts the rest.
func diffFiles(prev, cur fileSums) string {
	var changed, added, removed []string
	for k, v := range cur {
		pv, ok := prev[k]
		switch {
		case !ok:
			added = append(added, k)
		case pv != v:
			changed = append(changed, k)
		}
	}
	for k := range prev {
		if _, ok := cur[k]; !ok {
			removed = append(removed, k)
		}
	}
	if len(changed)+len(added)+len(removed) == 0 {
		return ""
	}
	sort.Strings(changed)
	sort.Strings(added)
	sort.Strings(removed)
	var parts []string
	named := 0
	say := func(list []string, verb string) {
		if len(list) == 0 {
			return
		}
		var show []string
		for _, p := range list {
			if named == 3 {
				break
			}
			show = append(show, strings.TrimPrefix(p, "/"))
			named++
		}
		if len(show) == 0 {
			return
		}
		word := "file"
		if len(show) > 1 {
			word = "files"
		}
		parts = append(parts, word+" "+strings.Join(show, ", ")+" "+verb)
	}
	say(changed, "changed")
	say(added, "added")
	say(removed, "removed")
	s := strings.Join(parts, "; ")
	if rest := len(changed) + len(added) + len(removed) - named; rest > 0 {
		s += fmt.Sprintf(" (and %d more)", rest)
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func shortDigest(s string) string {
	s = strings.TrimPrefix(s, "image:")
	if i := strings.Index(s, "sha256:"); i >= 0 && len(s) >= i+7+12 {
		return s[i : i+7+12]
	}
	return s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// tryCache computes the step's key and, on a hit, applies the recorded
// result and reports StepCached. On a miss it leaves the step pending
// with its reason, for finishBuilt.
func (e *Executor) tryCache(ctx context.Context, st *stageState, step int, c instructions.Command) (bool, error) {
	in, err := e.inputs(ctx, st, step, c)
	if err != nil {
		return false, err
	}
	key := in.key()
	st.pendingStep = step
	if err := e.dedupe.acquire(ctx, st, key); err != nil { // platforms.go
		return false, err
	}
	if e.noCache(step) == "" && in.Uncacheable == "" {
		if ent, ok := e.lookupCache(key); ok {
			if ent, ok := e.resolveEntry(st, ent); ok {
				e.applyCached(st, step, in, key, ent, e.hitNote(st, in))
				return true, nil
			}
		}
		if ent, src, ok := e.sharedLookup(key); ok { // remotecache.go
			if ent, ok := e.resolveEntry(st, ent); ok {
				e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: "cache hit: from " + src})
				e.applyCached(st, step, in, key, ent, "from "+src)
				return true, nil
			}
		}
	}
	classicWhy := ""
	if e.noCache(step) == "" && in.Uncacheable == "" {
		var ent *CacheEntry
		var src string
		if ent, src, classicWhy = e.classicLookup(st, step, c, key); ent != nil { // classiccache.go
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
	st.pending.prev = changedFrom(st, st.pending.reason)
	e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: "cache miss: " + st.pending.reason})
	return false, nil
}

// hitNote says why a hit is one though what --from names changed since
// the last build: COPY --from is keyed on the files it copies.
func (e *Executor) hitNote(st *stageState, in *stepInputs) string {
	if in.FromFiles == nil || st.last == nil || st.seq >= len(st.last.Steps) {
		return ""
	}
	prev := st.last.Steps[st.seq]
	if prev.From == "" || prev.From == in.From {
		return ""
	}
	if strings.HasPrefix(in.From, "stage:") {
		return "stage " + in.FromName + " was rebuilt; the files copied from it are unchanged"
	}
	return "image " + in.FromName + " changed; the files copied from it are unchanged"
}

// resolveEntry is ent with its config: an entry recorded as a delta is
// applied to the config of the step before, the stage's, when that is
// the image it was taken from (the usual hit), else to that image
// rebuilt from the step images stored (layers.IntermediateConfig), and
// checked against the image id recorded. false: it cannot be rebuilt (the
// step runs).
func (e *Executor) resolveEntry(st *stageState, ent *CacheEntry) (*CacheEntry, bool) {
	if ent.Config != nil {
		return ent, true
	}
	if !ent.wellFormed() {
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
	cfg, err := ent.Delta.ApplyAppend(base)
	if err != nil || configID(cfg) != ent.ImageID {
		return nil, false
	}
	r := *ent
	r.Config, r.fresh = cfg, true
	return &r, true
}

func (e *Executor) applyCached(st *stageState, step int, in *stepInputs, key string, ent *CacheEntry, note string) {
	id := ent.ImageID
	if ent.fresh { // rebuilt for this build, its id checked
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
			snap.Changes, _ = e.Store.LayerChanges(h)
		}
	}
	st.snap = snap
	st.key = key
	st.record = append(st.record, recordStep{stepInputs: *in, Key: key})
	st.seq++
	e.count(true)
	hit := event.StepCached{Base: event.Now(), Step: step, Key: key, ImageID: id, DiffID: ent.DiffID,
		Size: ent.Size, Files: ent.Files, Reason: note, Snapshot: snap}
	if ent.DiffID != "" && ent.Size == 0 { // no size recorded: a plain --cache-from image's (classiccache.go)
		hit.Size, hit.Files, hit.Remote = e.unrecordedLayer(snap)
	}
	e.emit(hit)
}

// finishBuilt completes a built step: its reason and key on the event,
// its result in the cache, its inputs in the stage's record.
func (e *Executor) finishBuilt(st *stageState, done *event.StepDone) {
	e.count(false)
	p := st.pending
	st.pending = nil
	if p == nil {
		return
	}
	done.Reason, done.Key, done.PrevInstruction = p.reason, p.key, p.prev
	st.key = p.key
	st.record = append(st.record, recordStep{stepInputs: *p.in, Key: p.key})
	st.seq++
	if p.in.Uncacheable != "" {
		return
	}
	ent := &CacheEntry{Key: p.key, Step: p.in.Text, Args: slices.Clone(st.args), CmdSet: st.cmdSet, ArgOver: slices.Sorted(maps.Keys(st.argOver)),
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
	if err := e.saveCache(ent); err != nil {
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
		return fmt.Sprintf("rebuilt without cache from step %d/%d (%s)", s.Number, s.StageSteps, clip(s.Text, 40))
	}
	return ""
}
