package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/source"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
)

// DefaultPathEnv is the PATH of images built FROM scratch (BuildKit's).
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Runner executes RUN steps (the sandbox). The executor knows only this.
type Runner interface {
	Run(ctx context.Context, req *RunRequest) (exitCode int, err error)
}

// Executor runs a plan step by step.
type Executor struct {
	Store  *layers.Store
	Plan   *frontend.Plan
	Opt    frontend.Options
	Runner Runner // nil: RUN steps fail with a clear message
	// Resolve opens a base image that is not a stage: "scratch" never
	// reaches it. The default handles oci:, docker-archive: and the local
	// store.
	Resolve func(ctx context.Context, ref string, platform *v1.Platform) (*v1.ConfigFile, error)
	// LogDir keeps each step's whole log (step-N.log); "" = a scratch dir.
	LogDir string
	// Control, when set, can pause the build before any step.
	Control *Control
	// Observe, when set, sees every event before it is sent (the --report
	// writer uses it).
	Observe func(event.Event)
	// Cache is --cache-from / --cache-to (build/cache, cachestep.go); nil: none.
	Cache *cache.Shared
	// Jobs bounds how many stages build at once (--jobs); 0: one per CPU.
	// Stages that do not depend on each other run concurrently
	// (parallel.go); the image is the same whatever the number.
	Jobs int

	// Stages build concurrently: mu guards stages, cached and built;
	// emitMu orders events (one stream, each event whole); frontMu
	// serializes the front end's shared state (the plan's lexer, the
	// linter) and metadata steps; ctlMu lets one stage at a time pause.
	mu      sync.Mutex
	emitMu  sync.Mutex
	frontMu sync.Mutex
	ctlMu   sync.Mutex

	events chan<- event.Event
	stages map[int]*stageState
	start  time.Time
	cached int
	built  int
	lint   *linter.Linter

	statCache *source.StatCache
	dedupe    *KeyLocks // stages (and a multi-platform build's runs) build a shared step once (platforms.go)
	pulls     pullMeter // bytes a FROM pulled, for its pull phase (proctiming.go)
	stepIDs   sync.Map  // *event.Snapshot -> its image id (steprun.go)
}

// Result is what a successful build made.
type Result struct {
	Config   *v1.ConfigFile
	ImageID  v1.Hash // config digest
	Manifest v1.Hash // local store manifest
	Size     int64
	Tags     []string
}

type stageState struct {
	stage *frontend.Stage
	cfg   *v1.ConfigFile
	args  []instructions.KeyValuePairOptional // ARGs declared in the stage, with values
	// argOver: ARGs with a value declared after the ENV of their name
	// (an ENV of the base image's too): RUN and expansions see the ARG's
	// value, as BuildKit adds it to the state's env; the config keeps the
	// ENV's. An ENV of the name later wins again.
	argOver  map[string]bool
	cmdSet   bool
	snap     *event.Snapshot
	platform v1.Platform

	// Cache state: the key of the last step, how many steps ran in this
	// stage, the last build's record and this build's, and what the step
	// being built depends on.
	key     string
	seq     int
	last    *cache.StageRecord
	record  []cache.RecordStep
	pending *pendingStep
	// pendingStep is the plan index of the step being keyed.
	pendingStep int
}

type pendingStep struct {
	in     *cache.Inputs
	key    string
	reason string
	prev   string // the last build's instruction, when it changed
}

func (st *stageState) view(s *layers.Store) *layers.View {
	return s.View(st.cfg.RootFS.DiffIDs)
}

// env is what words are expanded with: ARGs in effect, then ENV (ENV
// wins over an ARG of the same name declared before it, as documented by
// Docker; an ARG declared after it wins, as in BuildKit).
func (st *stageState) env() frontend.MapEnv {
	m := frontend.MapEnv{}
	for _, a := range st.args {
		if a.Value != nil {
			m[a.Key] = *a.Value
		}
	}
	for _, kv := range st.cfg.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		if !st.argOver[k] {
			m[k] = v
		}
	}
	return m
}

// argValue is the value of the ARG k in effect, if it has one.
func (st *stageState) argValue(k string) (string, bool) {
	for _, a := range st.args {
		if a.Key == k && a.Value != nil {
			return *a.Value, true
		}
	}
	return "", false
}

func (e *Executor) emit(ev event.Event) {
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	switch ev := ev.(type) {
	case event.StepDone:
		e.keepStepImage(ev.Snapshot, ev.ImageID)
	case event.StepCached:
		e.keepStepImage(ev.Snapshot, ev.ImageID)
	case event.StepProgress:
		e.pulls.note(ev)
	}
	if e.Observe != nil {
		e.Observe(ev)
	}
	if e.events != nil {
		e.events <- ev
	}
}

// keepStepImage stores the image a step made, so that the id the step
// prints names an image (run, inspect, FROM), as docker's intermediate
// images do. A step's image that cannot be stored stays unnamed.
func (e *Executor) keepStepImage(snap *event.Snapshot, id string) {
	if snap == nil || snap.Config == nil || e.Store == nil {
		return
	}
	e.stepIDs.Store(snap, id) // steprun.go
	if e.anyRemote(snap.Config.RootFS.DiffIDs) || e.keepStepDelta(snap, id) {
		return
	}
	e.Store.SaveIntermediate(snap.Config)
}

// Build runs the plan, publishing events on events (closed when done).
func (e *Executor) Build(ctx context.Context, events chan<- event.Event) (res *Result, err error) {
	e.events = events
	e.start = time.Now()
	// A session's builds share one Control: this build's pauses are what
	// it adds from now on.
	pausedBefore := e.Control.PausedTime()
	e.stages = map[int]*stageState{}
	if e.dedupe == nil { // stages side by side build a step they share once
		e.dedupe = NewKeyLocks()
	}
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
		if e.statCache != nil {
			e.statCache.Save()
		}
		paused := e.Control.PausedTime() - pausedBefore
		done := event.BuildDone{Base: event.Now(), Duration: time.Since(e.start) - paused, Paused: paused, Cached: e.cached, Built: e.built}
		if err != nil {
			done.Error = err.Error()
			done.Line = frontend.ErrorLine(err)
		} else if res != nil {
			done.ImageID = res.ImageID.String()
			done.Digest = res.Manifest.String()
			done.Tags = res.Tags
			done.Size = res.Size
			done.Layers = len(res.Config.RootFS.DiffIDs)
			for _, o := range e.Opt.Outputs {
				done.Outputs = append(done.Outputs, e.outputName(o))
			}
		}
		e.emit(done)
		if events != nil {
			close(events)
		}
	}()
	p := e.Plan
	e.lint = linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		e.emit(event.Warning{Base: event.Now(), Rule: rule, Message: msg, URL: url, Line: frontend.LineOf(loc)})
	}})
	names := make([]string, 0, len(p.Order))
	for _, si := range p.Order {
		names = append(names, p.Stages[si].DisplayName())
	}
	e.emit(event.PlanReady{Base: event.Now(), Dockerfile: p.File, Source: p.Source, Target: e.Opt.Target, Steps: p.Steps, Stages: names, Skipped: p.Skipped})
	for _, w := range p.Warnings {
		w.Base = event.Now()
		e.emit(w)
	}
	if e.LogDir == "" {
		d, err := e.Store.TempDir("logs-")
		if err != nil {
			return nil, err
		}
		e.LogDir = d
	}
	if err := e.buildStages(ctx); err != nil { // cachestep.go: p.Order's stages
		return nil, err
	}
	final := e.stages[p.Target]
	cfg := final.cfg.DeepCopy()
	// The image is as old as its last step, so a rebuild that changes
	// nothing makes the very same image (same id), as the classic builder
	// did: every step's config is stamped so (stampCreated), and the last
	// step's image id is this image's; a stage that is only FROM is its base
	// image, as in docker.
	if cfg.Created.IsZero() {
		cfg.Created = v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	}
	rec, err := e.Store.SaveImage(cfg)
	if err != nil {
		return nil, fmt.Errorf("save image: %w", err)
	}
	res = &Result{Config: cfg, ImageID: rec.Config, Manifest: rec.Manifest, Size: rec.Size}
	for _, t := range e.Opt.Tags {
		if err := e.Store.Tag(t, rec); err != nil {
			return nil, fmt.Errorf("-t %s: %w", t, err)
		}
		n, _ := layers.NormalizeName(t)
		res.Tags = append(res.Tags, n)
	}
	for _, o := range e.Opt.Outputs {
		if err := e.export(ctx, rec.Config, o); err != nil {
			return nil, err
		}
	}
	if err := e.afterOutputs(ctx, res); err != nil { // cachestep.go: --cache-to
		return nil, err
	}
	return res, nil
}

func (e *Executor) stepErr(st *stageState, c instructions.Command, err error) error {
	var le *frontend.LineError
	if errors.As(err, &le) {
		return err
	}
	return &frontend.LineError{File: e.Plan.File, Line: frontend.LineOf(c.Location()), Err: err}
}

func (e *Executor) buildStage(ctx context.Context, s *frontend.Stage) error {
	if err := e.wait(ctx, s.Steps[0]); err != nil {
		return err
	}
	st, err := e.from(ctx, s)
	if err != nil {
		return err
	}
	defer e.saveRecord(st)
	e.setStage(s.Index, st)
	for i, c := range s.Commands {
		if err := ctx.Err(); err != nil {
			return err
		}
		step := s.Steps[i+1]
		if err := e.wait(ctx, step); err != nil {
			return err
		}
		if err := e.dispatch(ctx, st, step, c); err != nil {
			return e.stepErr(st, c, err)
		}
	}
	return nil
}

// from makes a stage's starting state (the FROM step).
func (e *Executor) from(ctx context.Context, s *frontend.Stage) (*stageState, error) {
	step := s.Steps[0]
	t0 := time.Now()
	e.emit(event.StepStarted{Base: event.Now(), Step: step})
	platform := e.Plan.Platform
	if s.Platform != "" {
		platform, _ = platforms.Parse(s.Platform)
	}
	st := &stageState{stage: s, platform: platform}
	var phases []event.Phase
	fail := func(err error) (*stageState, error) {
		le := &frontend.LineError{File: e.Plan.File, Line: frontend.LineOf(s.Location), Err: err}
		e.emit(event.StepFailed{Base: event.Now(), Step: step, Error: le.Error(), Duration: time.Since(t0), Phases: phases})
		return nil, le
	}
	switch {
	case s.BaseStage >= 0:
		base, ok := e.stageOf(s.BaseStage)
		if !ok {
			return fail(fmt.Errorf("stage %s was not built", e.Plan.Stages[s.BaseStage].DisplayName()))
		}
		st.cfg = base.cfg.DeepCopy()
		st.snap = base.snap
	case strings.EqualFold(s.Base, "scratch"):
		st.cfg = emptyConfig(platform)
	default:
		pullStart := time.Now()
		cfg, err := e.resolveImage(ctx, step, s.Base, &platform)
		phases = e.pulls.phase(step, pullStart.Sub(t0), time.Since(t0))
		if err != nil {
			return fail(fmt.Errorf("FROM %s: %w", s.Base, err))
		}
		st.cfg = cfg.DeepCopy()
		if st.cfg.RootFS.Type == "" {
			st.cfg.RootFS.Type = "layers"
		}
		// BuildKit: "make sure that PATH is always set" (except on Windows):
		// a base image without PATH (docker import, a bare rootfs) gets the
		// default, in its config and for RUN.
		if _, ok := shell.EnvsFromSlice(st.cfg.Config.Env).Get("PATH"); !ok && platform.OS != "windows" {
			st.cfg.Config.Env = append(st.cfg.Config.Env, "PATH="+DefaultPathEnv)
		}
	}
	st.snap = &event.Snapshot{Layers: slices.Clone(st.cfg.RootFS.DiffIDs), Config: st.cfg.DeepCopy(), Parent: nil, Step: step}
	id := configID(st.cfg)
	// The base's identity starts the stage's key chain.
	in := &cache.Inputs{Text: e.Plan.Steps[step].Text, Canonical: "FROM " + s.Base + " " + platforms.String(platform), FromName: s.Base}
	switch {
	case s.BaseStage >= 0:
		base, _ := e.stageOf(s.BaseStage)
		in.Base = "stage:" + base.key
	case strings.EqualFold(s.Base, "scratch"):
		in.Base = "scratch"
	default:
		in.Base = "image:" + id
	}
	key := in.Key()
	st.last = e.loadRecord(s)
	st.pendingStep = step
	cached := e.noCache(step) == "" && st.last != nil && len(st.last.Steps) > 0 && st.last.Steps[0].Key == key
	reason, prevText := "", ""
	if !cached {
		reason = e.reason(st, in)
		prevText = cache.ChangedFrom(st.last, st.seq, reason)
	}
	st.key = key
	st.record = append(st.record, cache.RecordStep{Inputs: *in, Key: key})
	st.seq = 1
	if cached {
		e.count(true)
		e.emit(event.StepCached{Base: event.Now(), Step: step, Key: key, ImageID: id, Snapshot: st.snap})
	} else {
		e.count(false)
		e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: "cache miss: " + reason})
		e.emit(event.StepDone{Base: event.Now(), Step: step, ImageID: id, Duration: time.Since(t0), Snapshot: st.snap, Reason: reason, Key: key,
			PrevInstruction: prevText, Phases: phases})
	}
	// A base stage's own ONBUILD triggers run here too, once: BuildKit
	// gathers them for a stage built FROM it and clears OnBuild, so a stage
	// built from this one does not run them again.
	if len(st.cfg.Config.OnBuild) > 0 {
		if err := e.onbuild(ctx, st, step); err != nil {
			return fail(err)
		}
	}
	return st, nil
}

// onbuild runs the base's (image or stage) ONBUILD triggers right after FROM, as
// Docker does, then clears them from the config.
func (e *Executor) onbuild(ctx context.Context, st *stageState, step int) error {
	triggers := st.cfg.Config.OnBuild
	st.cfg.Config.OnBuild = nil
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil {
			return fmt.Errorf("ONBUILD trigger %q: %w", t, err)
		}
		for _, n := range res.AST.Children {
			c, err := instructions.ParseCommand(n)
			if err != nil {
				return fmt.Errorf("ONBUILD trigger %q: %w", t, err)
			}
			switch strings.ToUpper(c.Name()) {
			case "ONBUILD", "FROM", "MAINTAINER":
				return fmt.Errorf("ONBUILD trigger %q: %s is not allowed as an ONBUILD trigger", t, strings.ToUpper(c.Name()))
			}
			e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: "running ONBUILD trigger: " + t})
			if err := e.dispatch(ctx, st, step, c); err != nil {
				return fmt.Errorf("ONBUILD trigger %q: %w", t, err)
			}
		}
	}
	return nil
}

func emptyConfig(p v1.Platform) *v1.ConfigFile {
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}},
	}
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"PATH=" + DefaultPathEnv}
	return cfg
}

func configID(cfg *v1.ConfigFile) string {
	b, _ := json.Marshal(cfg)
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// expand expands a command's words with the stage's ARGs and ENV and
// reports undefined variables (UndefinedVar).
func (e *Executor) expand(st *stageState, c instructions.Command) error {
	env := st.env()
	// Heredoc bodies are expanded as BuildKit does: backslash escapes,
	// quotes kept (SkipProcessQuotes), whatever the escape directive.
	raw := shell.NewLex('\\')
	raw.SkipProcessQuotes = true
	expandWith := func(lex *shell.Lex) func(string) (string, error) {
		return func(word string) (string, error) {
			return e.expandWord(lex, word, env, st, c)
		}
	}
	// ARG values are expanded by the ARG step itself (once), as BuildKit does.
	if _, isArg := c.(*instructions.ArgCommand); !isArg {
		if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
			if err := ex.Expand(expandWith(e.Plan.Lex)); err != nil {
				return err
			}
		}
	}
	if ex, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := ex.ExpandRaw(expandWith(raw)); err != nil {
			return err
		}
	}
	return nil
}

func (e *Executor) expandWord(lex *shell.Lex, word string, env frontend.MapEnv, st *stageState, c instructions.Command) (string, error) {
	res, err := e.Plan.LimitedExpand(lex, word, env, func() string { return frontend.ExpansionWhat(c, frontend.ExpansionNames(c), word) })
	if err != nil {
		return "", err
	}
	for name := range res.Unmatched {
		if _, ok := env[name]; ok {
			continue
		}
		// BuildKit: an ARG of the stage is declared even with no value.
		if slices.ContainsFunc(st.args, func(a instructions.KeyValuePairOptional) bool { return a.Key == name }) {
			continue
		}
		if e.declaredAnywhere(name) {
			continue
		}
		e.lint.Run(&linter.RuleUndefinedVar, c.Location(), linter.RuleUndefinedVar.Format(name, ""))
	}
	return res.Result, nil
}

func (e *Executor) declaredAnywhere(name string) bool {
	if _, ok := e.Plan.GlobalArgs[name]; ok {
		return true
	}
	return e.Plan.ArgDeclared(name)
}

// dispatch runs one instruction: the one switch of the executor.
func (e *Executor) dispatch(ctx context.Context, st *stageState, step int, c instructions.Command) error {
	r := &stepRun{e: e, st: st, step: step, t0: time.Now()}
	e.emit(event.StepStarted{Base: event.Now(), Step: step})
	e.frontMu.Lock()
	err := e.expand(st, c)
	e.frontMu.Unlock()
	if err != nil {
		r.fail(err)
		return err
	}
	endCache := r.phase("cache")
	hit, err := e.tryCache(ctx, st, step, c)
	endCache()
	if err != nil {
		if !e.rewalks(ctx, err) { // cachestep.go: not a failure, the plan is walked again
			r.fail(err)
		}
		return err
	} else if hit {
		return nil
	}
	r.noteContextFiles()
	if metadataOnly(c) {
		// Cheap, and they expand words with the plan's lexer: one at a time.
		e.frontMu.Lock()
		defer e.frontMu.Unlock()
	}
	switch c := c.(type) {
	case *instructions.EnvCommand:
		err = r.dispatchEnv(c)
	case *instructions.LabelCommand:
		err = r.dispatchLabel(c)
	case *instructions.MaintainerCommand:
		err = r.dispatchMaintainer(c)
	case *instructions.CmdCommand:
		err = r.dispatchCmd(c)
	case *instructions.EntrypointCommand:
		err = r.dispatchEntrypoint(c)
	case *instructions.ExposeCommand:
		err = r.dispatchExpose(c)
	case *instructions.UserCommand:
		err = r.dispatchUser(c)
	case *instructions.VolumeCommand:
		err = r.dispatchVolume(c)
	case *instructions.StopSignalCommand:
		err = r.dispatchStopSignal(c)
	case *instructions.ShellCommand:
		err = r.dispatchShell(c)
	case *instructions.OnbuildCommand:
		err = r.dispatchOnbuild(c)
	case *instructions.HealthCheckCommand:
		err = r.dispatchHealthcheck(c)
	case *instructions.ArgCommand:
		err = e.arg(r, c)
	case *instructions.WorkdirCommand:
		err = e.workdir(ctx, r, c)
	case *instructions.CopyCommand:
		err = e.copyCmd(ctx, r, c)
	case *instructions.AddCommand:
		err = e.addCmd(ctx, r, c)
	case *instructions.RunCommand:
		err = e.run(ctx, r, c)
	default:
		err = fmt.Errorf("%s is not supported", strings.ToUpper(c.Name()))
	}
	if err != nil {
		var rf *RunFailure
		if !errors.As(err, &rf) {
			r.fail(err)
		}
		return err
	}
	return nil
}

func (e *Executor) arg(r *stepRun, c *instructions.ArgCommand) error {
	var strs []string
	for _, kv := range c.Args {
		if kv.Key == "" {
			return errors.New("ARG needs a name: ARG NAME or ARG NAME=default")
		}
		v, given := e.Plan.BuildArgs[kv.Key]
		switch {
		case given:
			kv.Value = &v
		case kv.Value != nil:
			res, err := e.Plan.LimitedExpand(e.Plan.Lex, *kv.Value, r.st.env(), frontend.Named("ARG "+frontend.ShortWord(kv.Key)))
			if err != nil {
				return frontend.WrapExpand("ARG "+kv.Key, err)
			}
			kv.Value = &res.Result
		default:
			if g, ok := e.Plan.GlobalArgs[kv.Key]; ok {
				kv.Value = &g
			}
		}
		// Replace an earlier declaration of the same ARG.
		replaced := false
		for i := range r.st.args {
			if r.st.args[i].Key == kv.Key {
				r.st.args[i] = kv
				replaced = true
			}
		}
		if !replaced {
			r.st.args = append(r.st.args, kv)
		}
		if kv.Value != nil {
			if r.st.argOver == nil {
				r.st.argOver = map[string]bool{}
			}
			r.st.argOver[kv.Key] = true
		}
		s := kv.Key
		if kv.Value != nil {
			s += "=" + *kv.Value
		}
		strs = append(strs, s)
	}
	r.done("ARG " + strings.Join(strs, " "))
	return nil
}

func addEnv(env []string, k, v string) []string {
	for i, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if key == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func withShell(cfg *v1.ConfigFile, args []string) []string {
	sh := []string{"/bin/sh", "-c"}
	if len(cfg.Config.Shell) > 0 {
		sh = slices.Clone(cfg.Config.Shell)
	}
	return append(sh, strings.Join(args, " "))
}

// expandPorts parses EXPOSE values as Docker does: PORT[/PROTO] and
// ranges START-END[/PROTO]; the result keeps the order written (BuildKit's
// convert_expose.go, whose list is the history's "EXPOSE [...]").
func expandPorts(in []string) ([]string, error) {
	var out []string
	for _, raw := range in {
		p, proto, _ := strings.Cut(raw, "/")
		if proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("EXPOSE %s: invalid protocol %q (tcp, udp or sctp)", raw, proto)
		}
		if strings.Contains(p, ":") {
			// host-ip:host-port:container-port is docker run syntax: keep the container port
			parts := strings.Split(p, ":")
			p = parts[len(parts)-1]
		}
		lo, hi, isRange := strings.Cut(p, "-")
		a, err := parsePort(lo)
		if err != nil {
			return nil, fmt.Errorf("EXPOSE %s: %w", raw, err)
		}
		b := a
		if isRange {
			if b, err = parsePort(hi); err != nil || b < a {
				return nil, fmt.Errorf("EXPOSE %s: invalid port range (want START-END with START <= END)", raw)
			}
		}
		for n := a; n <= b; n++ {
			out = append(out, fmt.Sprintf("%d/%s", n, proto))
		}
	}
	return out, nil
}

func parsePort(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s || n < 0 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q (want a number from 0 to 65535)", s)
	}
	return n, nil
}

var signals = map[string]bool{"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CONT": true, "FPE": true, "HUP": true, "ILL": true, "INT": true, "IO": true, "IOT": true, "KILL": true, "PIPE": true, "POLL": true, "PROF": true, "PWR": true, "QUIT": true, "SEGV": true, "STKFLT": true, "STOP": true, "SYS": true, "TERM": true, "TRAP": true, "TSTP": true, "TTIN": true, "TTOU": true, "URG": true, "USR1": true, "USR2": true, "VTALRM": true, "WINCH": true, "XCPU": true, "XFSZ": true}

func checkSignal(s string) error {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n > 0 && n <= 64 {
			return nil
		}
		return fmt.Errorf("STOPSIGNAL %s: invalid signal number (1 to 64)", s)
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if signals[name] || strings.HasPrefix(name, "RTMIN") || strings.HasPrefix(name, "RTMAX") {
		return nil
	}
	return fmt.Errorf("STOPSIGNAL %s: unknown signal (use a name like SIGTERM or a number)", s)
}

// workdir sets WorkingDir and, as BuildKit does, creates the directory
// (owned by the current USER) as a layer when it is missing.
func (e *Executor) workdir(ctx context.Context, r *stepRun, c *instructions.WorkdirCommand) error {
	// BuildKit (system.NormalizeWorkdir) joins a relative path to the
	// current one, but keeps an absolute one as written: "WORKDIR /srv/"
	// is "/srv/" in the config and history. The directory made is the same.
	wd := c.Path
	if !path.IsAbs(wd) {
		wd = path.Join("/", r.st.cfg.Config.WorkingDir, wd)
	}
	r.st.cfg.Config.WorkingDir = wd
	history := "WORKDIR " + wd
	wd = path.Clean(wd)
	if wd == "/" {
		r.done(history)
		return nil
	}
	view := r.st.view(e.Store)
	uid, gid := 0, 0
	if r.st.cfg.Config.User != "" {
		// BuildKit makes the directories with llb.WithUser(USER): --chown
		// rules (a bare uid is also the gid), not the RUN user's passwd gid.
		var warn string
		uid, gid, warn = lookupChown(view, r.st.cfg.Config.User)
		if warn != "" {
			e.emit(event.Warning{Base: event.Now(), Message: "WORKDIR " + c.Path + " as USER " + r.st.cfg.Config.User + ": " + warn, Line: frontend.LineOf(c.Location())})
		}
	}
	pl, err := e.makeLayer(view, func(stage *stager) error {
		if en, err := view.Stat(wd); err == nil {
			if en.Info.IsDir() {
				return nil // exists: BuildKit's mkdir changes nothing, so no layer
			}
			return fmt.Errorf("WORKDIR %s: the image has a file there, not a directory", wd)
		}
		real, err := view.Resolve(wd, true)
		if err != nil {
			return err
		}
		// Without USER, BuildKit's mkdir chowns nothing (its chowner is
		// nil): under a setgid parent the group is the parent's.
		return stage.mkdirAll(real, 0o755, uid, gid, r.st.cfg.Config.User != "")
	})
	if err != nil {
		return err
	}
	return r.layerDone(history, pl)
}

// shellEnv returns an EnvGetter for tests and callers outside the package.
var _ shell.EnvGetter = frontend.MapEnv{}

// PanicError is a panic recovered in Build: a bug of strata. Its message
// is short (it ends the build like any error); Stack is where it happened,
// for a bug report.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("internal error: %v", e.Value) }
