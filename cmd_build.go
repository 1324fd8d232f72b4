package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/build/session"
	"github.com/strata-build/strata/build/space"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
	"github.com/strata-build/strata/sandbox"
	"github.com/strata-build/strata/tui"
)

type buildOpts struct {
	file      string
	tags      []string
	buildArgs []string
	target    string
	noCache   bool
	network   string
	allow     []string
	platform  string
	progress  string
	outputs   []string
	memory    string
	pids      int64
	secrets   []string
	pull      bool
	jobs      int // --jobs: stages built at once (0: one per CPU)
	insecure  []string
	cacheFrom []string // --cache-from (build/cache)
	cacheTo   []string // --cache-to
	ci        ciOpts   // --ci and its rules (cmd_space.go)
	report    string
	trace     string
	tracer    *event.Trace // --trace: filled by observe

	// The TUI's debugger: start paused, breakpoints, the shell program.
	step       bool
	breaks     []string
	debugShell string
}

func (o *buildOpts) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVarP(&o.file, "file", "f", "", "Dockerfile path (default CONTEXT/Dockerfile)")
	f.StringArrayVarP(&o.tags, "tag", "t", nil, "name[:tag] for the image in the local store (repeatable; -o type=registry pushes these)")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE (repeatable)")
	f.StringVar(&o.target, "target", "", "build this stage (and what it needs) instead of the last one")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use the cache")
	f.StringVar(&o.network, "network", "default", "network for RUN steps, default|host|none: a private network namespace with outbound access, the host's, or only lo (as docker build)")
	f.StringArrayVar(&o.allow, "allow", nil, "network.host: let the Dockerfile's RUN --network=host use the host's network (as docker build --allow)")
	f.StringVar(&o.platform, "platform", "", "target platform os/arch[/variant], or several comma-separated (linux/amd64,linux/arm64: one image index; another architecture's RUN runs under QEMU through binfmt_misc) (default: this machine's)")
	f.StringVar(&o.progress, "progress", "auto", "progress output: auto or tty (the TUI on a terminal, plain otherwise and in strata build), plain, or json (one event per line, docs/events.md)")
	f.StringArrayVarP(&o.outputs, "output", "o", nil, "type=oci,dest=DIR | type=docker,dest=FILE | type=registry[,name=REF] (push the -t tags) | oci:DIR[:TAG] | docker-archive:FILE[:NAME:TAG] (repeatable)")
	f.StringVar(&o.memory, "memory", "", "memory limit for RUN steps (e.g. 512m, 2g)")
	f.Int64Var(&o.pids, "pids-limit", 0, "process limit for RUN steps (0: none)")
	f.StringArrayVar(&o.secrets, "secret", nil, "secret for RUN --mount=type=secret: id=ID,src=FILE (repeatable)")
	f.IntVar(&o.jobs, "jobs", 0, "build at most N independent stages at once (default: the number of CPUs; 1: one stage after another); the image is the same")
	f.BoolVar(&o.pull, "pull", false, "always ask the registry for newer base images")
	f.StringArrayVar(&o.insecure, "insecure-registry", nil, "registry HOST[:PORT] or CIDR reached over plain HTTP or unverified TLS (repeatable; loopback always is)")
	f.StringArrayVar(&o.cacheFrom, "cache-from", nil, "use a shared cache: type=registry,ref=REF | type=local,src=DIR | REF (an image pushed with --cache-to type=inline); repeatable; layers are downloaded only when needed (docs/cache.md)")
	f.StringArrayVar(&o.cacheTo, "cache-to", nil, "share this build's cache: type=registry,ref=REF[,mode=min|max] | type=local,dest=DIR[,mode=...] | type=inline (in the pushed image); repeatable")
	f.StringVar(&o.report, "report", "", "write a JSON build report to FILE (per step: cached or built and why, time, layer, size; docs/events.md)")
	f.StringVar(&o.trace, "trace", "", "write the build's timeline to FILE as Chrome trace-event JSON (steps, their phases, every process of every RUN; opens in Perfetto)")
	f.BoolVar(&o.step, "step", false, "TUI: pause before the first step (n runs one step, c continues)")
	f.StringArrayVar(&o.breaks, "break", nil, "TUI: pause before the step on Dockerfile line LINE (repeatable)")
	f.StringVar(&o.debugShell, "debug-shell", "", "TUI: shell PATH (inside the image) for s/p, for images without /bin/sh")
	o.ci.register(c, "the built image (no TUI)")
}

// tuiOnly rejects the debugger's flags where there is no TUI.
func (o *buildOpts) tuiOnly(why string) error {
	switch {
	case o.step:
		return fmt.Errorf("--step needs the TUI (a terminal and --progress auto or tty): %s", why)
	case len(o.breaks) > 0:
		return fmt.Errorf("--break needs the TUI (a terminal and --progress auto or tty): %s", why)
	case o.debugShell != "":
		return fmt.Errorf("--debug-shell needs the TUI (a terminal and --progress auto or tty): %s", why)
	}
	return nil
}

// breakLines parses --break against the plan: every value is the line of
// a step of this build.
func (o *buildOpts) breakLines(plan *frontend.Plan) ([]int, error) {
	var out []int
	for _, b := range o.breaks {
		n, err := strconv.Atoi(strings.TrimSpace(b))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--break %q: want a Dockerfile line number (1 or more)", b)
		}
		if plan == nil {
			out = append(out, n)
			continue
		}
		found := false
		for _, s := range plan.Steps {
			if n >= s.StartLine && n <= max(s.EndLine, s.StartLine) {
				found = true
				break
			}
		}
		if !found {
			lines := strings.Count(strings.TrimSuffix(string(plan.Source), "\n"), "\n") + 1
			if n > lines {
				return nil, fmt.Errorf("--break %d: %s has %d lines", n, frontend.ShortPath(plan.File), lines)
			}
			return nil, fmt.Errorf("--break %d: no step of this build is on line %d of %s (a comment, a blank line or a stage --target leaves out); give the line of an instruction", n, n, frontend.ShortPath(plan.File))
		}
		out = append(out, n)
	}
	return out, nil
}

func newBuildCmd(g *globals) *cobra.Command {
	bo := &buildOpts{}
	c := &cobra.Command{
		Use:   "build [flags] CONTEXT",
		Short: "Build an image without the TUI (CI, scripts)",
		Long: `build builds CONTEXT with the Dockerfile in it (or -f FILE) and prints
docker build's plain progress (--progress auto and tty mean plain here), or
one JSON event per line with --progress json (docs/events.md). Every built
step says why the cache missed (docs/cache.md). The image is stored in the
local store under its -t names; -o also exports or pushes it.

--step, --break and --debug-shell are for the TUI (strata [flags] CONTEXT)
and are refused here.`,
		Example: `  strata build .
  strata build -t app:1 --build-arg VERSION=1.2 .
  strata build -t app:1 -o type=oci,dest=out/ -o type=docker,dest=app.tar .
  strata build -t 127.0.0.1:5000/app:1 -o type=registry .
  strata build --progress json --report report.json . > events.jsonl`,
		Args: exactContext,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd.Context(), g, bo, args[0])
		},
	}
	bo.register(c)
	return c
}

func exactContext(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return errors.New("build needs a CONTEXT directory: strata build [flags] CONTEXT (use . for the current directory)")
	}
	if len(args) > 1 {
		return fmt.Errorf("build takes one CONTEXT, got %d arguments (%s): put flags before or after it", len(args), strings.Join(args, " "))
	}
	return nil
}

func parseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	l := strings.ToLower(s)
	switch {
	case strings.HasSuffix(l, "k"), strings.HasSuffix(l, "kb"):
		mult = 1 << 10
	case strings.HasSuffix(l, "m"), strings.HasSuffix(l, "mb"):
		mult = 1 << 20
	case strings.HasSuffix(l, "g"), strings.HasSuffix(l, "gb"):
		mult = 1 << 30
	}
	l = strings.TrimRight(l, "kmgb")
	var n int64
	if _, err := fmt.Sscanf(l, "%d", &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 512m, 2g)", s)
	}
	return n * mult, nil
}

func (o *buildOpts) options(ctxDir string) (frontend.Options, error) {
	opt := frontend.Options{ContextDir: ctxDir, Dockerfile: o.file, Target: o.target, Platform: o.platform,
		NoCache: o.noCache, Network: o.network, Tags: o.tags, PidsLimit: o.pids, BuildArgs: map[string]string{}}
	for _, kv := range o.buildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return opt, fmt.Errorf("--build-arg %q: want KEY=VALUE", kv)
		}
		if !ok {
			// docker: --build-arg KEY takes the value from the environment
			ev, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = ev
		}
		opt.BuildArgs[k] = v
	}
	for _, t := range o.tags {
		if _, err := layers.NormalizeName(t); err != nil {
			return opt, fmt.Errorf("-t %s: %w", t, err)
		}
	}
	for _, s := range o.outputs {
		out, err := parseOutput(s)
		if err != nil {
			return opt, err
		}
		if err := checkOutput(s, out, o.tags); err != nil {
			return opt, err
		}
		opt.Outputs = append(opt.Outputs, out)
	}
	switch o.network {
	case "host", "none", "default", "":
	default:
		return opt, fmt.Errorf("--network %q: want default, host or none", o.network)
	}
	for _, a := range o.allow {
		if a != "network.host" {
			return opt, fmt.Errorf("--allow %q: strata grants only network.host (RUN --network=host)", a)
		}
		opt.AllowNetworkHost = true
	}
	m, err := parseSize(o.memory)
	if err != nil {
		return opt, fmt.Errorf("--memory: %w", err)
	}
	opt.Memory = m
	// A rootless strata without a delegated cgroup is refused the limits
	// here, before the store is opened or anything written (the sandbox
	// checks again at each RUN).
	if err := sandbox.CheckLimits(opt.Memory, opt.PidsLimit); err != nil {
		return opt, err
	}
	opt.Pull, opt.InsecureRegistries = o.pull, o.insecure
	if _, err := registry.NewPolicy(o.insecure); err != nil {
		return opt, err
	}
	if len(o.secrets) > 0 {
		opt.Secrets = map[string]string{}
	}
	for _, s := range o.secrets {
		var id, src string
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "id":
				id = v
			case "src", "source":
				src = v
			case "type":
			default:
				return opt, fmt.Errorf("--secret %q: unknown key %q (want id=ID,src=FILE)", s, k)
			}
		}
		if id == "" || src == "" {
			return opt, fmt.Errorf("--secret %q: want id=ID,src=FILE", s)
		}
		if fi, err := os.Stat(src); err != nil || fi.IsDir() {
			// as docker build: a secret's file is checked before the build
			return opt, fmt.Errorf("--secret %q: src %s is not a readable file: want id=ID,src=FILE", s, src)
		}
		opt.Secrets[id] = src
	}
	switch o.progress {
	case "auto", "tty", "plain", "json":
	case "rawjson":
		// docker's rawjson is BuildKit's raw solve status; strata's json
		// already is its raw event stream, so one name says it.
		return opt, fmt.Errorf("--progress rawjson: strata has no raw variant; use --progress json (one event per line, docs/events.md)")
	default:
		return opt, fmt.Errorf("--progress %q: want auto, tty, plain or json", o.progress)
	}
	return opt, nil
}

// parseOutput reads an -o value: docker's type=oci,dest=DIR,
// type=docker,dest=FILE or type=registry[,name=REF], or an archive in the
// image-reference grammar, oci:DIR[:TAG] or docker-archive:FILE[:NAME:TAG],
// whose TAG or NAME:TAG names the image there instead of the -t tags.
func parseOutput(s string) (frontend.Output, error) {
	if !strings.HasPrefix(s, "oci:") && !strings.HasPrefix(s, "docker-archive:") {
		return frontend.ParseOutput(s)
	}
	r, err := imageref.Parse(s)
	if err != nil {
		return frontend.Output{}, fmt.Errorf("--output %w", err)
	}
	o := frontend.Output{Type: "oci", Dest: r.Path, Names: r.Names()}
	if r.Transport == imageref.DockerArchive {
		o.Type = "docker"
	}
	return o, nil
}

// checkOutput finds what would make an -o export fail only after the
// build: a destination of the wrong kind, a push with no name to push to.
func checkOutput(s string, out frontend.Output, tags []string) error {
	switch out.Type {
	case "oci":
		if fi, err := os.Stat(out.Dest); err == nil && !fi.IsDir() {
			return fmt.Errorf("--output %q: dest=%s is a file; type=oci writes an OCI layout directory (give a new or existing directory)", s, out.Dest)
		}
	case "docker":
		if fi, err := os.Stat(out.Dest); err == nil && fi.IsDir() {
			return fmt.Errorf("--output %q: dest=%s is a directory; type=docker writes a tarball file (e.g. dest=%s)", s, out.Dest, filepath.Join(out.Dest, "image.tar"))
		}
	case "registry":
		if out.Dest != "" {
			return fmt.Errorf("--output %q: type=registry takes no dest (it pushes the -t tags, or name=REF)", s)
		}
		if len(out.Names)+len(tags) == 0 {
			return fmt.Errorf("--output %q: nothing to push to: add -t REGISTRY/REPOSITORY[:TAG] (e.g. -t 127.0.0.1:5000/app:1) or name=REF", s)
		}
		for _, n := range out.Names {
			if _, err := registry.Parse(n); err != nil {
				return fmt.Errorf("--output %q: name=%s: %w", s, n, err)
			}
		}
	}
	return nil
}

func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
}

func runBuild(parent context.Context, g *globals, bo *buildOpts, ctxDir string) error {
	if err := bo.tuiOnly("this build prints plain progress"); err != nil {
		return err
	}
	if err := bo.ci.check(); err != nil {
		return err
	}
	opt, err := bo.options(ctxDir)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext(parent)
	defer cancel()
	if plats, err := platformList(opt.Platform); err != nil {
		return err
	} else if len(plats) > 1 { // cmd_platforms.go: one index of several platforms
		return runMultiBuild(ctx, g, bo, opt, plats)
	}
	plan, err := frontend.NewPlan(opt)
	if err != nil {
		if bo.progress == "json" && plan != nil && plan.Source != nil {
			// A JSON consumer gets the same two events the TUI shows.
			if p, perr := event.NewPrinter("json", os.Stdout); perr == nil {
				for _, ev := range frontend.ParseFailed(plan, err) {
					p.Print(ev)
				}
			}
		}
		return err
	}
	if err := session.CheckEmulators(plan, binfmtDir()); err != nil { // a foreign RUN needs QEMU
		return err
	}
	if err := needRoot("build"); err != nil {
		return err
	}
	store, err := layers.Open(g.root)
	if err != nil {
		return err
	}
	defer store.Close()
	sweepSandbox()
	mode := bo.progress
	if mode == "auto" || mode == "tty" {
		mode = "plain"
	}
	printer, err := event.NewPrinter(mode, os.Stdout)
	if err != nil {
		return err
	}
	if bo.jobs < 0 {
		return fmt.Errorf("--jobs %d: want a number of stages, 1 or more (0: one per CPU)", bo.jobs)
	}
	ex := &build.Executor{Store: store, Plan: plan, Opt: opt, Runner: build.SandboxRunner(), Jobs: bo.jobs}
	if ex.Cache, err = bo.sharedCache(); err != nil {
		return err
	}
	report := bo.observe(ex)
	col := bo.collect(ex)
	events := make(chan event.Event, 256)
	done := make(chan struct{})
	go func() {
		event.Consume(events, printer)
		close(done)
	}()
	_, err = ex.Build(ctx, events)
	<-done
	var analysis *space.Analysis
	if err == nil {
		analysis, err = bo.analyse(ctx, store, report, col)
	}
	if rerr := bo.writeReport(report); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("build cancelled")
		}
		return err
	}
	if bo.ci.on {
		return bo.ci.gate(os.Stdout, analysis)
	}
	return nil
}

// useTUI: the TUI is for a terminal with --progress auto or tty.
func useTUI(mode string) bool {
	return (mode == "auto" || mode == "tty") && term.IsTerminal(int(os.Stdout.Fd())) && term.IsTerminal(int(os.Stdin.Fd()))
}

// runBuildUI builds with the TUI when stdout is a terminal (plain
// progress otherwise). A Dockerfile that does not parse still opens the
// TUI, with the error marked on its line. While the TUI is open, saving
// the Dockerfile or a context file rebuilds (a session.Session); the
// debugger's keys reach the build through a build.Control.
func runBuildUI(parent context.Context, g *globals, bo *buildOpts, ctxDir string) error {
	if !useTUI(bo.progress) || bo.ci.on {
		return runBuild(parent, g, bo, ctxDir)
	}
	opt, err := bo.options(ctxDir)
	if err != nil {
		return err
	}
	if plats, err := platformList(opt.Platform); err != nil {
		return err
	} else if len(plats) > 1 { // cmd_platforms.go: one step tree per platform
		return runMultiUI(parent, g, bo, opt, plats)
	}
	// A TUI build without -t is named after its context, so the image is
	// there by name afterwards (said when the TUI closes).
	named := ""
	if len(opt.Tags) == 0 {
		named = contextName(ctxDir)
		opt.Tags = []string{named}
	}
	plan, perr := frontend.NewPlan(opt)
	if perr != nil && (plan == nil || plan.Source == nil) {
		return perr // no Dockerfile to show
	}
	if perr != nil {
		plan = nil // the session reports the error on its line
	} else if err := session.CheckEmulators(plan, binfmtDir()); err != nil { // a foreign RUN needs QEMU
		return err
	}
	breaks, err := bo.breakLines(plan)
	if err != nil {
		return err
	}
	title := opt.Dockerfile
	if plan != nil {
		title = plan.File
	}
	if title == "" {
		title = "Dockerfile"
	}
	if err := needRoot("building"); err != nil {
		return err
	}
	ctx, store, closeStore, err := g.openStore(parent)
	if err != nil {
		return err
	}
	defer closeStore()
	sweepSandbox()
	control := build.NewControl(bo.step, breaks)
	if bo.jobs < 0 {
		return fmt.Errorf("--jobs %d: want a number of stages, 1 or more (0: one per CPU)", bo.jobs)
	}
	sess := session.New(store, opt, build.SandboxRunner(), control)
	sess.Jobs = bo.jobs
	if sess.Cache, err = bo.sharedCache(); err != nil {
		return err
	}
	var report *event.Report
	if bo.report != "" {
		report = &event.Report{}
	}
	if bo.trace != "" {
		bo.tracer = &event.Trace{}
	}
	// The last build's end is printed when the TUI closes, as strata build
	// prints it, so the terminal keeps the result.
	var lastMu sync.Mutex
	var last *event.BuildDone
	sess.Observe = func(ev event.Event) {
		if d, ok := ev.(event.BuildDone); ok {
			lastMu.Lock()
			last = &d
			lastMu.Unlock()
		}
		if report != nil {
			report.Observe(ev)
		}
		if bo.tracer != nil {
			bo.tracer.Observe(ev)
		}
	}
	col := bo.collectSession(sess)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	ran := make(chan struct{})
	go func() {
		sess.Run(sctx)
		close(ran)
	}()
	watched := make(chan struct{})
	var watchErr error // said after the TUI, not over it
	go func() {
		defer close(watched)
		watchErr = sess.Watch(sctx, 300*time.Millisecond)
	}()
	uiErr := tui.Run(ctx, tui.Options{Events: sess.Events(), Backend: sess.Backend, Title: title,
		Control: control, Rebuild: sess.Rebuild, DebugShell: bo.debugShell})
	// Stop the session: a running or paused build is cancelled; drain
	// what it still sends and wait for it (and the watcher) to clean up.
	scancel()
	for range sess.Events() {
	}
	<-ran
	<-watched
	if watchErr != nil {
		fmt.Fprintf(os.Stderr, "strata: saved changes did not rebuild: %v\n", watchErr)
	}
	bo.analyse(ctx, store, report, col)
	if rerr := bo.writeReport(report); rerr != nil {
		return rerr
	}
	if uiErr != nil {
		return uiErr
	}
	lastMu.Lock()
	done := last
	lastMu.Unlock()
	if done != nil && done.Error == "" {
		(&event.PlainPrinter{W: os.Stdout}).Print(*done)
		if named != "" {
			fmt.Printf("(no -t given: named %s after the build context; strata run %s runs it)\n", named, named)
		}
	}
	if _, err := sess.Last(); err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("the build was stopped: the TUI closed before it ended")
		}
		return err
	}
	return nil
}

// contextName is the name a TUI build without -t gets: the context
// directory's name as an image name (lowercase; other characters than
// letters, digits, '.', '_' and '-' become '-'), tag latest.
func contextName(ctxDir string) string {
	base := "strata-build"
	if abs, err := filepath.Abs(ctxDir); err == nil {
		base = filepath.Base(abs)
	}
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "._-")
	if n == "" {
		n = "strata-build"
	}
	if full, err := layers.NormalizeName(n); err == nil {
		return full
	}
	return "strata-build:latest"
}

// observe attaches the --report writer to an executor.
func (o *buildOpts) observe(ex *build.Executor) *event.Report {
	var r *event.Report
	if o.report != "" {
		r = &event.Report{}
	}
	if o.trace != "" {
		o.tracer = &event.Trace{}
	}
	if r == nil && o.tracer == nil {
		return nil
	}
	ex.Observe = func(ev event.Event) {
		if r != nil {
			r.Observe(ev)
		}
		if o.tracer != nil {
			o.tracer.Observe(ev)
		}
	}
	return r
}

// writeReport writes --report and --trace.
func (o *buildOpts) writeReport(r *event.Report) error {
	if o.tracer != nil {
		if err := o.tracer.WriteFile(o.trace); err != nil {
			return err
		}
	}
	if r == nil {
		return nil
	}
	return r.WriteFile(o.report)
}

// needRoot says why building needs root: RUN runs in namespaces with
// overlayfs, and layers keep the owners of their files.
func needRoot(what string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root (run it with sudo): RUN steps run in new namespaces on overlayfs, and layers keep the owners of their files", what)
	}
	return nil
}

// sharedCache parses --cache-from and --cache-to (nil when neither is given).
func (o *buildOpts) sharedCache() (*cache.Shared, error) {
	if len(o.cacheFrom)+len(o.cacheTo) == 0 {
		return nil, nil
	}
	c := &cache.Shared{Insecure: o.insecure}
	for _, s := range o.cacheFrom {
		spec, err := cache.ParseSpec("--cache-from", s, false)
		if err != nil {
			return nil, err
		}
		c.From = append(c.From, spec)
	}
	for _, s := range o.cacheTo {
		spec, err := cache.ParseSpec("--cache-to", s, true)
		if err != nil {
			return nil, err
		}
		if spec.Type == "inline" && !slices.ContainsFunc(o.outputs, func(out string) bool { return strings.Contains(out, "type=registry") }) {
			return nil, fmt.Errorf("--cache-to %q: an inline cache rides in the pushed image: add -o type=registry (and -t REGISTRY/REPO:TAG)", s)
		}
		c.To = append(c.To, spec)
	}
	return c, nil
}
