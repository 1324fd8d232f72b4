package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/session"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
	"github.com/strata-build/strata/sandbox"
	"github.com/strata-build/strata/tui"
)

// binfmtDir is where strata looks for QEMU's binfmt_misc handlers:
// STRATA_BINFMT_DIR when set (tests point it at an empty dir), else the
// kernel's /proc/sys/fs/binfmt_misc.
func binfmtDir() string { return os.Getenv("STRATA_BINFMT_DIR") }

// multiRefuse names the flags a multi-platform build does not take yet,
// each with what works instead: the same flag for one platform at a time.
// It runs before the store is opened.
func (o *buildOpts) multiRefuse(n int) error {
	refuse := func(flag, what, example string) error {
		return fmt.Errorf("%s with %d platforms is not supported yet: %s, one platform at a time (--platform linux/arm64 %s, then --platform linux/amd64 the same way)", flag, n, what, example)
	}
	switch {
	case o.report != "":
		return refuse("--report", "write one report per platform", "--report report-arm64.json")
	case o.trace != "":
		return refuse("--trace", "trace one platform per file", "--trace trace-arm64.json")
	case o.ci.on:
		err := refuse("--ci", "gate each platform's image", "--ci")
		return fmt.Errorf("%w; an index built already: strata inspect --ci --platform linux/arm64 NAME", err)
	case len(o.cacheTo) > 0:
		return refuse("--cache-to", "give each platform its own cache", "--cache-to type=registry,ref=REGISTRY/cache:arm64")
	case o.step:
		return refuse("--step", "debug one platform", "--step")
	case len(o.breaks) > 0:
		return refuse("--break", "debug one platform", "--break "+o.breaks[0])
	}
	return nil
}

// runMultiBuild builds several platforms into one index (session.Multi) with
// plain or JSON progress: each line says its platform ("[linux/arm64] #3
// RUN ..."; a JSON event gets a "platform" field).
func runMultiBuild(ctx context.Context, g *globals, bo *buildOpts, opt frontend.Options, plats []v1.Platform) error {
	if err := bo.multiRefuse(len(plats)); err != nil {
		return err
	}
	if bo.jobs < 0 {
		return fmt.Errorf("--jobs %d: want a number of stages, 1 or more (0: one per CPU)", bo.jobs)
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
	m := &session.Multi{Store: store, Opt: opt, Platforms: plats, Runner: build.SandboxRunner(), Jobs: bo.jobs, BinfmtDir: binfmtDir()}
	if m.Cache, err = bo.sharedCache(); err != nil {
		return err
	}
	if _, err := m.Plans(); err != nil {
		return err
	}
	mode := bo.progress
	if mode == "auto" || mode == "tty" {
		mode = "plain"
	}
	out := &lockedWriter{w: os.Stdout}
	var chans []chan<- event.Event
	var wg sync.WaitGroup
	for _, p := range plats {
		pw := &platformWriter{out: out, platform: platforms.Format(p), json: mode == "json"}
		printer, err := event.NewPrinter(mode, pw)
		if err != nil {
			return err
		}
		ch := make(chan event.Event, 256)
		chans = append(chans, ch)
		wg.Add(1)
		go func() {
			defer wg.Done()
			event.Consume(ch, printer)
			pw.Flush()
		}()
	}
	res, err := m.Build(ctx, chans)
	wg.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("build cancelled")
		}
		return err
	}
	if mode == "plain" {
		printIndex(os.Stdout, res)
	}
	return nil
}

// printIndex tells what the index holds: which image each platform gets,
// and the emulated platforms' RUN time against the native one's.
func printIndex(w io.Writer, res *session.MultiResult) {
	fmt.Fprintf(w, "image index %s (%d platforms, %s)", res.Index, len(res.Builds), res.Duration.Round(1e7))
	if len(res.Tags) > 0 {
		fmt.Fprintf(w, " named %s", strings.Join(res.Tags, ", "))
	}
	fmt.Fprintln(w)
	var native *session.PlatformBuild
	for _, b := range res.Builds {
		if !b.Emulated && native == nil {
			native = b
		}
	}
	for _, b := range res.Builds {
		how := "native"
		if b.Emulated {
			how = "emulated (QEMU)"
		}
		line := fmt.Sprintf("  %-16s manifest %s  image %s  %s, %s, RUN %s", platforms.Format(b.Platform), b.Manifest, b.Result.ImageID.Hex[:12], how, b.Duration.Round(1e7), b.RunTime.Round(1e7))
		if b.Emulated && native != nil && native.RunTime > 0 && b.RunTime > 0 {
			line += fmt.Sprintf(" (%.1f× %s's)", float64(b.RunTime)/float64(native.RunTime), platforms.Format(native.Platform))
		}
		fmt.Fprintln(w, line)
	}
}

// lockedWriter writes whole lines of several platforms' printers, one
// at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) write(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(b)
}

// platformWriter prefixes each whole line of one platform's printer with
// the platform (plain) or adds it as a field (JSON, one object a line).
type platformWriter struct {
	out      *lockedWriter
	platform string
	json     bool
	buf      bytes.Buffer
}

func (p *platformWriter) Write(b []byte) (int, error) {
	p.buf.Write(b)
	for {
		i := bytes.IndexByte(p.buf.Bytes(), '\n')
		if i < 0 {
			return len(b), nil
		}
		line := p.buf.Next(i + 1)
		p.out.write(p.line(line))
	}
}

func (p *platformWriter) line(l []byte) []byte {
	if p.json {
		if rest, ok := bytes.CutPrefix(l, []byte("{")); ok {
			return append([]byte(fmt.Sprintf(`{"platform":%q,`, p.platform)), rest...)
		}
		return l
	}
	return append([]byte("["+p.platform+"] "), l...)
}

// Flush writes a last line without a newline.
func (p *platformWriter) Flush() {
	if p.buf.Len() > 0 {
		p.out.write(append(p.line(p.buf.Bytes()), '\n'))
		p.buf.Reset()
	}
}

// platformList reads --platform ("" is the host's, one platform).
func platformList(s string) ([]v1.Platform, error) {
	if s == "" {
		return []v1.Platform{platforms.Host()}, nil
	}
	ps, err := platforms.ParseList(s)
	if err != nil {
		return nil, fmt.Errorf("--platform: %w", err)
	}
	return ps, nil
}

// platformImage is the image of ref for --platform (run, inspect): the
// platform's image when ref names a multi-platform image of the local
// store (built with several --platform values), else ref's image if it is
// for that platform. It returns the image's config and its id.
func platformImage(ctx context.Context, store *layers.Store, ref, platform string) (*v1.ConfigFile, string, error) {
	want, err := platforms.Parse(platform)
	if err != nil {
		return nil, "", fmt.Errorf("--platform: %w", err)
	}
	if idx, ok, err := store.LookupIndex(ref); err != nil {
		return nil, "", err
	} else if ok {
		offered := make([]*v1.Platform, len(idx.Images))
		var names []string
		for i, im := range idx.Images {
			if p, err := platforms.Parse(im.Platform); err == nil {
				offered[i] = &p
			}
			names = append(names, im.Platform)
		}
		i := platforms.Pick(offered, want)
		if i < 0 {
			return nil, "", fmt.Errorf("--platform %s: %s has no image for it: its index has %s", platform, ref, strings.Join(names, ", "))
		}
		cfg, err := store.LoadConfig(idx.Images[i].ImageRecord)
		if err != nil {
			return nil, "", fmt.Errorf("%s (%s): %w", ref, idx.Images[i].Platform, err)
		}
		return cfg, idx.Images[i].Config.String(), nil
	}
	cfg, err := snapshot.LoadImage(ctx, store, ref)
	if err != nil {
		return nil, "", err
	}
	if !platforms.Fits(platforms.Of(cfg), want) {
		return nil, "", fmt.Errorf("--platform %s: %s is a %s image (one platform, not an index)", platform, ref, platforms.String(platforms.Of(cfg)))
	}
	return cfg, ref, nil
}

// checkRunnable fails when cfg's programs are of an architecture that
// needs an emulator this machine lacks.
func checkRunnable(ref string, cfg *v1.ConfigFile) error {
	p := platforms.Of(cfg)
	if p.Architecture == "" || platforms.Native(p) {
		return nil
	}
	arch := platforms.QEMUArch(p)
	if arch == "" {
		return fmt.Errorf("%s is a %s image: QEMU has no user-mode emulator for it", ref, platforms.String(p))
	}
	if _, err := sandbox.CheckEmulator(binfmtDir(), arch); err != nil {
		return fmt.Errorf("%s is a %s image: %w", ref, platforms.String(p), err)
	}
	return nil
}

// printIndexImages adds, under a name that is a multi-platform image, a
// row per platform: its image id and size, the one the name runs marked.
func printIndexImages(w io.Writer, store *layers.Store, r layers.ImageRecord) {
	idx, ok, err := store.LookupIndex(r.Name)
	if err != nil || !ok {
		return
	}
	for i, im := range idx.Images {
		branch := "├"
		if i == len(idx.Images)-1 {
			branch = "└"
		}
		note := ""
		if im.Manifest == r.Manifest {
			note = " (runs by default)"
		}
		name := im.Platform
		if p, err := platforms.Parse(name); err == nil {
			name = platforms.Format(p)
		}
		fmt.Fprintf(w, "  %s %s\t\t%s\t\t%s%s\n", branch, name, im.Config.Hex[:12], event.HumanSize(im.Size), note)
	}
}

// pushImage is strata push: a multi-platform image of the local store is
// pushed as its index (every platform's image, then the index under the
// tag), any other image as itself (registry.Push).
func pushImage(ctx context.Context, store *layers.Store, image, dest string, o registry.Options) (*registry.Pushed, error) {
	idx, ok, err := store.LookupIndex(image)
	if err != nil || !ok {
		return registry.Push(ctx, store, image, dest, o)
	}
	if dest == "" {
		dest = image
	}
	ii, configs, err := session.StoredIndex(store, idx)
	if err != nil {
		return nil, err
	}
	return registry.PushIndex(ctx, store, ii, configs, dest, o)
}

// emulatorsLine is strata info's "emulators": the platforms whose RUN
// works here under QEMU (binfmt_misc handlers with the F flag), or what to
// install.
func emulatorsLine() string {
	ems := sandbox.Emulators(binfmtDir())
	if len(ems) == 0 {
		if !sandbox.BinfmtAvailable() {
			return "none: this kernel has no binfmt_misc, so --platform builds only " + platforms.Format(platforms.Host())
		}
		return "none: a --platform of another architecture cannot RUN; " + sandbox.EmulatorInstall
	}
	var names []string
	for _, e := range ems {
		names = append(names, e.Arch)
	}
	return strings.Join(names, ", ") + " (QEMU via binfmt_misc, F flag: --platform linux/<arch> can RUN)"
}

// runMultiUI builds several platforms with the TUI: one step tree per
// platform (a switches), the index in Summary; the index's summary is
// printed when the TUI closes, as strata build prints it.
func runMultiUI(parent context.Context, g *globals, bo *buildOpts, opt frontend.Options, plats []v1.Platform) error {
	if err := bo.multiRefuse(len(plats)); err != nil {
		return err
	}
	if bo.jobs < 0 {
		return fmt.Errorf("--jobs %d: want a number of stages, 1 or more (0: one per CPU)", bo.jobs)
	}
	named := ""
	if len(opt.Tags) == 0 {
		named = contextName(opt.ContextDir)
		opt.Tags = []string{named}
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
	m := &session.Multi{Store: store, Opt: opt, Platforms: plats, Runner: build.SandboxRunner(), Jobs: bo.jobs, BinfmtDir: binfmtDir()}
	if m.Cache, err = bo.sharedCache(); err != nil {
		return err
	}
	plans, err := m.Plans()
	if err != nil {
		return err
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sends []chan<- event.Event
	var chans []chan event.Event
	var views []tui.Options
	for i, p := range plats {
		ch := make(chan event.Event, 256)
		chans, sends = append(chans, ch), append(sends, ch)
		be := snapshot.NewBackend(store, cancel)
		m.Backends = append(m.Backends, be)
		views = append(views, tui.Options{Title: platforms.Format(p), Events: ch, Backend: be, Emulated: len(session.EmulatedStages(plans[i])) > 0})
	}
	var res *session.MultiResult
	var berr error
	built := make(chan struct{})
	go func() {
		res, berr = m.Build(bctx, sends)
		close(built)
	}()
	title := plans[0].File
	uiErr := tui.Run(ctx, tui.Options{Title: title, Platforms: views, HasOutput: true, DebugShell: bo.debugShell})
	select {
	case <-built:
	default:
		cancel() // the TUI closed before the build ended
	}
	for _, ch := range chans {
		go func() {
			for range ch {
			}
		}()
	}
	<-built
	if uiErr != nil {
		return uiErr
	}
	if berr != nil {
		if errors.Is(berr, context.Canceled) {
			return errors.New("the build was stopped: the TUI closed before it ended")
		}
		return berr
	}
	printIndex(os.Stdout, res)
	if named != "" {
		fmt.Printf("(no -t given: named %s after the build context; strata run --platform P %s runs one platform)\n", named, named)
	}
	return nil
}
