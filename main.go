// Command strata builds container images from Dockerfiles, one visible step
// at a time. See README.md and docs/.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/build"
	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/sandbox"
)

// sweepSandbox removes what the sandbox runs of a killed strata left (their
// cgroups, run dirs), best effort. The commands that run containers call it
// at start, right after opening the store, whose Open sweeps the scratch
// dirs of such a strata.
func sweepSandbox() {
	_ = sandbox.Sweep("")
}

// version is set by the release build (-ldflags -X main.version=...).
var version = "dev"

func main() {
	// First: a re-executed strata may be a container's init.
	sandbox.Init()
	// Then: the first exec of a rootless strata waits for its id maps.
	rootless.Stage()
	os.Exit(run(os.Args[1:]))
}

type globals struct {
	root string
}

func defaultRoot() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "strata")
	}
	if os.Geteuid() == 0 && !rootless.Inside() {
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
	// A failed RUN ends with the last lines of its output, as BuildKit's
	// error summary does: the live output may be far above, or was not shown.
	var rf *build.RunFailure
	if errors.As(err, &rf) && len(rf.Last) > 0 {
		last := rf.Last[max(0, len(rf.Last)-5):]
		for _, l := range last {
			fmt.Fprintln(os.Stderr, "  > "+l)
		}
	}
	return 1
}

func newRootCmd(g *globals) *cobra.Command {
	bo := &buildOpts{}
	root := &cobra.Command{
		Use:   "strata [flags] [CONTEXT]",
		Short: "Build container images from Dockerfiles, one visible step at a time",
		Long: `strata builds OCI images from Dockerfiles without a daemon. Every step's
filesystem change is kept as a snapshot you can inspect.

With no command, strata builds CONTEXT (default ".") in the TUI when stdin
and stdout are a terminal (and --progress is auto or tty): the Dockerfile,
the steps, each step's log, files, config and cache reason; saving the
Dockerfile or a context file rebuilds; press ? for the keys. Otherwise it
prints progress as "strata build" does. No root needed: a normal user's
strata runs in a user namespace of its own (strata info says how).`,
		Example: `  strata example                   # the bundled example, in the TUI
  strata .                         # build the current directory in the TUI
  strata --step .                  # pause before the first step (n: next, c: continue)
  strata --break 8 .               # pause before the step on Dockerfile line 8
  strata build -t app:1 .          # no TUI: plain progress`,
		Args:          rootArgs,
		Version:       versionString(),
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
	root.PersistentPreRunE = enterUserNS // a normal user's strata runs in a user namespace
	root.SetVersionTemplate("strata {{.Version}}\n")
	root.SuggestionsMinimumDistance = 2 // rootArgs asks before cobra sets it
	root.PersistentFlags().StringVar(&g.root, "root", defaultRoot(), "state folder (images, layers, cache)")
	bo.register(root)
	root.AddCommand(newBuildCmd(g), newImagesCmd(g), newRmCmd(g), newVersionCmd(), newExampleCmd(g), newRunCmd(g), newPruneCmd(g), newPullCmd(g), newPushCmd(g), newInspectCmd(g), newInfoCmd(g))
	return root
}

// rootArgs checks strata's own arguments: one build context at most. A
// first argument that is no directory but close to a command's name is a
// mistyped command (strata biuld ., strata imagse), said as cobra says it
// for a subcommand.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if fi, err := os.Stat(args[0]); err != nil || !fi.IsDir() {
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			return fmt.Errorf("unknown command %q for %q: did you mean %s? (a build context is a directory; strata --help lists the commands)", args[0], cmd.CommandPath(), strings.Join(s, " or "))
		}
	}
	return cobra.MaximumNArgs(1)(cmd, args)
}
