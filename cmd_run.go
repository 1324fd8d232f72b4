package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/sandbox"
)

func newRunCmd(g *globals) *cobra.Command {
	var rm, interactive, tty bool
	var network, user, workdir, platform string
	var envs, secOpts []string
	c := &cobra.Command{
		Use:   "run [flags] IMAGE [CMD ARG...]",
		Short: "Run an image's primary command (or CMD) in a temporary container",
		Long: `run starts a temporary container from IMAGE in strata's sandbox (the one RUN
steps use) and runs the image's ENTRYPOINT and CMD, or its ENTRYPOINT with
CMD ARG... when given. strata exits with the command's exit code. The
container is always removed when it exits.

IMAGE is ` + imageref.Forms + `
(a registry reference the store lacks is pulled first).

Flags go before IMAGE: everything after it is the command.`,
		Example: `  strata run strata-example
  strata run --rm -it strata-example sh
  strata run -e DEBUG=1 -u nobody -w /tmp --network none strata-example env`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("run needs an IMAGE: " + imageref.Forms + " (strata run [flags] IMAGE [CMD ARG...])")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			unconfined := false
			for _, o := range secOpts {
				switch o {
				case "seccomp=unconfined", "seccomp:unconfined":
					unconfined = true
				default:
					return fmt.Errorf("--security-opt %q: strata knows only seccomp=unconfined", o)
				}
			}
			switch network {
			case "bridge": // docker run's name for its default network
				network = sandbox.NetworkDefault
			case sandbox.NetworkDefault, sandbox.NetworkHost, sandbox.NetworkNone:
			default:
				return fmt.Errorf("--network %q: want default (or bridge), host or none", network)
			}
			if err := sandbox.Supported(); err != nil {
				return fmt.Errorf("run: %w", err)
			}
			if err := sandbox.CheckNetwork(network); err != nil {
				return fmt.Errorf("run: %w", err)
			}
			ctx, store, done, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			sweepSandbox()
			var cfg *v1.ConfigFile
			if platform != "" { // cmd_platforms.go: one image of an index
				cfg, _, err = platformImage(ctx, store, args[0], platform)
			} else {
				cfg, err = snapshot.LoadImage(ctx, store, args[0])
			}
			if err != nil {
				return err
			}
			if err := checkRunnable(args[0], cfg); err != nil {
				return err
			}
			if err := store.CheckLayers(cfg.RootFS.DiffIDs); err != nil {
				return err
			}
			argv := append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...)
			if len(args) > 1 {
				argv = append(append([]string{}, cfg.Config.Entrypoint...), args[1:]...)
			}
			if len(argv) == 0 {
				return fmt.Errorf("image %s has no ENTRYPOINT or CMD: give a command (strata run %s /bin/sh)", args[0], args[0])
			}
			spec, remove, err := snapshot.ContainerSpec(store, cfg, argv)
			if err != nil {
				return err
			}
			defer remove()
			env := spec.Env
			for _, kv := range envs {
				k, _, ok := strings.Cut(kv, "=")
				switch {
				case k == "":
					return fmt.Errorf("-e %q: want KEY=VALUE, or KEY to pass strata's own value of KEY", kv)
				case ok:
					env = append(env, kv)
				default:
					// as docker run: -e KEY takes KEY from here, or nothing when unset
					if v, set := os.LookupEnv(k); set {
						env = append(env, k+"="+v)
					}
				}
			}
			u := cfg.Config.User
			if user != "" {
				u = user
			}
			wd := cfg.Config.WorkingDir
			if workdir != "" {
				if !path.IsAbs(workdir) {
					return fmt.Errorf("-w %q: the working directory must be an absolute path in the container (e.g. -w /%s)", workdir, workdir)
				}
				wd = workdir
			}
			spec.Env, spec.Dir, spec.User, spec.Network = env, wd, u, network
			spec.SeccompUnconfined = unconfined
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
	f.BoolVar(&rm, "rm", false, "remove the container when it exits (accepted for docker's sake: always done)")
	f.BoolVarP(&interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a terminal")
	f.StringVar(&network, "network", "default", "network for the container, default|host|none: a private network namespace with outbound access (docker's bridge), the host's, or only lo")
	f.StringVarP(&user, "user", "u", "", "user[:group] instead of the image's USER")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory instead of the image's WORKDIR")
	f.StringArrayVarP(&envs, "env", "e", nil, "set KEY=VALUE in the environment, or KEY to pass strata's own value (repeatable)")
	f.StringArrayVar(&secOpts, "security-opt", nil, "seccomp=unconfined: run without the seccomp filter")
	f.StringVar(&platform, "platform", "", "os/arch[/variant]: run this platform's image of a multi-platform IMAGE (another architecture runs under QEMU)")
	return c
}
