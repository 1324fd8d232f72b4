// Command strata builds container images from Dockerfiles, one visible step
// at a time. See README.md and docs/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-build/strata/assets"
	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
	"github.com/strata-build/strata/tui"
)

// version is set by the release build (-ldflags -X main.version=...).
var version = "dev"

func main() {
	// First: a re-executed strata may be a container's init.
	sandbox.Init()
	os.Exit(run(os.Args[1:]))
}

type globals struct {
	root string
}

func defaultRoot() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "strata")
	}
	if os.Geteuid() == 0 {
		return "/var/lib/strata"
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "strata")
	}
	return filepath.Join(os.TempDir(), "strata")
}

// exitError carries an exit code through cobra.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(args []string) int {
	g := &globals{}
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "strata: "+err.Error())
	return 1
}

func newRootCmd(g *globals) *cobra.Command {
	bo := &buildOpts{}
	root := &cobra.Command{
		Use:   "strata [flags] [CONTEXT]",
		Short: "Build container images from Dockerfiles, one visible step at a time",
		Long: `strata builds OCI images from Dockerfiles without a daemon. Every step's
filesystem change is kept as a snapshot you can inspect.

With no command, strata builds CONTEXT (default ".").`,
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctxDir := "."
			if len(args) == 1 {
				ctxDir = args[0]
			}
			return runBuildUI(cmd.Context(), g, bo, ctxDir)
		},
	}
	root.PersistentFlags().StringVar(&g.root, "root", defaultRoot(), "state folder (images, layers, cache)")
	bo.register(root)
	root.AddCommand(newBuildCmd(g), newImagesCmd(g), newRmCmd(g), newVersionCmd(), newExampleCmd(g), newRunCmd(g))
	return root
}

type buildOpts struct {
	file      string
	tags      []string
	buildArgs []string
	target    string
	noCache   bool
	network   string
	platform  string
	progress  string
	outputs   []string
	memory    string
	pids      int64
	secrets   []string
}

func (o *buildOpts) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVarP(&o.file, "file", "f", "", "Dockerfile path (default CONTEXT/Dockerfile)")
	f.StringArrayVarP(&o.tags, "tag", "t", nil, "name:tag for the image in the local store (repeatable)")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE (repeatable)")
	f.StringVar(&o.target, "target", "", "build this stage (and what it needs) instead of the last one")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use the cache")
	f.StringVar(&o.network, "network", "host", "network for RUN: host or none")
	f.StringVar(&o.platform, "platform", "", "target platform os/arch[/variant]")
	f.StringVar(&o.progress, "progress", "auto", "progress output: auto, tty, plain or json")
	f.StringArrayVarP(&o.outputs, "output", "o", nil, "type=oci,dest=DIR | type=docker,dest=FILE (repeatable)")
	f.StringVar(&o.memory, "memory", "", "memory limit for RUN steps (e.g. 512m, 2g)")
	f.Int64Var(&o.pids, "pids-limit", 0, "process limit for RUN steps (0: none)")
	f.StringArrayVar(&o.secrets, "secret", nil, "secret for RUN --mount=type=secret: id=ID,src=FILE")
}

func newBuildCmd(g *globals) *cobra.Command {
	bo := &buildOpts{}
	c := &cobra.Command{
		Use:   "build [flags] CONTEXT",
		Short: "Build an image without the TUI (CI, scripts)",
		Args:  exactContext,
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

func (o *buildOpts) options(ctxDir string) (build.Options, error) {
	opt := build.Options{ContextDir: ctxDir, Dockerfile: o.file, Target: o.target, Platform: o.platform,
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
		out, err := build.ParseOutput(s)
		if err != nil {
			return opt, err
		}
		opt.Outputs = append(opt.Outputs, out)
	}
	switch o.network {
	case "host", "none", "default", "":
	default:
		return opt, fmt.Errorf("--network %q: want host or none", o.network)
	}
	m, err := parseSize(o.memory)
	if err != nil {
		return opt, fmt.Errorf("--memory: %w", err)
	}
	opt.Memory = m
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
		opt.Secrets[id] = src
	}
	switch o.progress {
	case "auto", "tty", "plain", "json", "rawjson":
	default:
		return opt, fmt.Errorf("--progress %q: want auto, tty, plain or json", o.progress)
	}
	return opt, nil
}

func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

func runBuild(parent context.Context, g *globals, bo *buildOpts, ctxDir string) error {
	opt, err := bo.options(ctxDir)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext(parent)
	defer cancel()
	plan, err := build.NewPlan(opt)
	if err != nil {
		return err
	}
	store, err := layers.Open(g.root)
	if err != nil {
		return err
	}
	defer store.Close()
	mode := bo.progress
	if mode == "auto" || mode == "tty" {
		mode = "plain"
	}
	printer, err := build.NewPrinter(mode, os.Stdout)
	if err != nil {
		return err
	}
	ex := &build.Executor{Store: store, Plan: plan, Opt: opt, Runner: build.SandboxRunner()}
	events := make(chan build.Event, 256)
	done := make(chan struct{})
	go func() {
		build.Consume(events, printer)
		close(done)
	}()
	_, err = ex.Build(ctx, events)
	<-done
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("build cancelled")
		}
		return err
	}
	return nil
}

// useTUI: the TUI is for a terminal with --progress auto or tty.
func useTUI(mode string) bool {
	return (mode == "auto" || mode == "tty") && term.IsTerminal(int(os.Stdout.Fd())) && term.IsTerminal(int(os.Stdin.Fd()))
}

// runBuildUI builds with the TUI when stdout is a terminal (plain
// progress otherwise). A Dockerfile that does not parse still opens the
// TUI, with the error marked on its line.
func runBuildUI(parent context.Context, g *globals, bo *buildOpts, ctxDir string) error {
	if !useTUI(bo.progress) {
		return runBuild(parent, g, bo, ctxDir)
	}
	opt, err := bo.options(ctxDir)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext(parent)
	defer cancel()
	events := make(chan build.Event, 1024)
	plan, perr := build.NewPlan(opt)
	if perr != nil {
		if plan == nil || plan.Source == nil {
			return perr
		}
		events <- build.PlanReady{Dockerfile: plan.File, Source: plan.Source}
		events <- build.BuildDone{Error: perr.Error(), Line: build.ErrorLine(perr)}
		close(events)
		return tui.Run(ctx, tui.Options{Events: events, Backend: build.NewBackend(nil, nil, nil), Title: plan.File})
	}
	store, err := layers.Open(g.root)
	if err != nil {
		return err
	}
	defer store.Close()
	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	ex := &build.Executor{Store: store, Plan: plan, Opt: opt, Runner: build.SandboxRunner()}
	backend := build.NewBackend(store, ex, bcancel)
	var buildErr error
	done := make(chan struct{})
	go func() {
		_, buildErr = ex.Build(bctx, events)
		close(done)
	}()
	uiErr := tui.Run(ctx, tui.Options{Events: events, Backend: backend, Title: plan.File})
	bcancel()
	// Drain what the executor still sends, and wait for it to clean up.
	go func() {
		for range events {
		}
	}()
	<-done
	if uiErr != nil {
		return uiErr
	}
	if buildErr != nil {
		return &exitError{code: 1}
	}
	return nil
}

func newImagesCmd(g *globals) *cobra.Command {
	var quiet bool
	c := &cobra.Command{
		Use:   "images",
		Short: "List the images in the local store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := layers.Open(g.root)
			if err != nil {
				return err
			}
			defer store.Close()
			imgs, err := store.Images()
			if err != nil {
				return err
			}
			if quiet {
				for _, r := range imgs {
					fmt.Println(r.Config.Hex[:12])
				}
				return nil
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			for _, r := range imgs {
				repo, tag := r.Name, ""
				if i := strings.LastIndex(r.Name, ":"); i > strings.LastIndex(r.Name, "/") {
					repo, tag = r.Name[:i], r.Name[i+1:]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", repo, tag, r.Config.Hex[:12], ago(r.Created), build.HumanSize(r.Size))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only image ids")
	return c
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "Less than a minute ago"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	case d < 14*24*time.Hour:
		return plural(int(d.Hours()/24), "day") + " ago"
	case d < 60*24*time.Hour:
		return plural(int(d.Hours()/24/7), "week") + " ago"
	}
	return plural(int(d.Hours()/24/30), "month") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		if unit == "hour" {
			return "About an hour"
		}
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func newRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm IMAGE...",
		Short: "Remove images (names or ids) from the local store",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("rm needs at least one IMAGE (a name or id from strata images)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := layers.Open(g.root)
			if err != nil {
				return err
			}
			defer store.Close()
			removed, err := store.Untag(args...)
			if err != nil {
				return err
			}
			for _, n := range removed {
				fmt.Println("Untagged: " + n)
			}
			return nil
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print strata's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						v = "dev-" + s.Value[:12]
					}
				}
			}
			fmt.Printf("strata %s\n", v)
		},
	}
}

func newExampleCmd(g *globals) *cobra.Command {
	bo := &buildOpts{}
	var dir string
	c := &cobra.Command{
		Use:   "example [flags]",
		Short: "Write the bundled example (with a busybox rootfs.tar) and build it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := prepareExample(dir); err != nil {
				return err
			}
			if len(bo.tags) == 0 {
				bo.tags = []string{"strata-example:latest"}
			}
			fmt.Fprintf(os.Stderr, "example context: %s\n", dir)
			return runBuildUI(cmd.Context(), g, bo, dir)
		},
	}
	c.Flags().StringVar(&dir, "dir", filepath.Join(os.TempDir(), "strata-example"), "where to write the example build context")
	bo.register(c)
	return c
}

// prepareExample writes the example context and its base rootfs.tar.
func prepareExample(dir string) error {
	if err := assets.WriteExample(dir); err != nil {
		return fmt.Errorf("write example: %w", err)
	}
	tar := filepath.Join(dir, "rootfs.tar")
	if _, err := os.Stat(tar); err == nil {
		return nil
	}
	return assets.WriteBusyboxRootfs(tar)
}

func newRunCmd(g *globals) *cobra.Command {
	var rm, interactive, tty bool
	var network, user, workdir string
	var envs []string
	c := &cobra.Command{
		Use:   "run [--rm] [-it] IMAGE [CMD ARG...]",
		Short: "Run an image's primary command (or CMD) in the sandbox",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("run needs an IMAGE (a name from strata images, oci:DIR[:tag] or docker-archive:FILE)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sandbox.Supported(); err != nil {
				return fmt.Errorf("run: %w", err)
			}
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			store, err := layers.Open(g.root)
			if err != nil {
				return err
			}
			defer store.Close()
			cfg, err := build.LoadImage(ctx, store, args[0])
			if err != nil {
				return err
			}
			argv := append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...)
			if len(args) > 1 {
				argv = append(append([]string{}, cfg.Config.Entrypoint...), args[1:]...)
			}
			if len(argv) == 0 {
				return fmt.Errorf("image %s has no ENTRYPOINT or CMD: give a command (strata run %s /bin/sh)", args[0], args[0])
			}
			tmp, err := store.TempDir("container-")
			if err != nil {
				return err
			}
			defer layers.RemoveAll(tmp)
			upper, work := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work")
			os.Mkdir(upper, 0o755)
			os.Mkdir(work, 0o755)
			var lower []string
			for i := len(cfg.RootFS.DiffIDs) - 1; i >= 0; i-- {
				lower = append(lower, store.LayerFS(cfg.RootFS.DiffIDs[i]))
			}
			env := append([]string{}, cfg.Config.Env...)
			env = append(env, envs...)
			u := cfg.Config.User
			if user != "" {
				u = user
			}
			wd := cfg.Config.WorkingDir
			if workdir != "" {
				wd = workdir
			}
			spec := &sandbox.Spec{Lower: lower, Upper: upper, Work: work, Args: argv, Env: env, Dir: wd, User: u,
				Network: network, TmpDir: tmp}
			if interactive {
				spec.Stdin = os.Stdin
			}
			if tty || (interactive && term.IsTerminal(int(os.Stdin.Fd()))) {
				spec.Tty = tty || term.IsTerminal(int(os.Stdout.Fd()))
				spec.Stdin = os.Stdin
			}
			code, err := sandbox.Run(ctx, spec, os.Stdout, os.Stderr)
			_ = rm // containers are never kept: --rm is the only mode
			if err != nil {
				var ee *sandbox.ExecError
				if errors.As(err, &ee) {
					fmt.Fprintln(os.Stderr, "strata: "+ee.Error())
					return &exitError{code: ee.Code}
				}
				return err
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := c.Flags()
	f.SetInterspersed(false)
	f.BoolVar(&rm, "rm", false, "remove the container when it exits (always done)")
	f.BoolVarP(&interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a terminal")
	f.StringVar(&network, "network", "host", "host or none")
	f.StringVarP(&user, "user", "u", "", "user[:group] instead of the image's USER")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory instead of the image's WORKDIR")
	f.StringArrayVarP(&envs, "env", "e", nil, "extra environment KEY=VALUE")
	return c
}
