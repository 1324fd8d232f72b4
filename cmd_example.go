package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/strata-build/strata/assets"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print strata's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "strata %s\n", versionString())
		},
	}
}

// versionString is strata's version (strata version, strata --version):
// the release's, else dev and the commit it was built from.
func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v = "dev-" + s.Value[:12]
			}
		}
	}
	return v
}

func newExampleCmd(g *globals) *cobra.Command {
	bo := &buildOpts{}
	var dir string
	c := &cobra.Command{
		Use:   "example [flags]",
		Short: "Write the bundled example and build it (in the TUI on a terminal)",
		Long: `example writes the bundled example build context to --dir: a Dockerfile
(FROM scratch, ADD rootfs.tar and one step of each kind), an app/ folder
and a rootfs.tar made from Debian's static busybox (apt-get install
busybox-static), all offline. It then builds it as strata-example:latest
(unless -t is given), the way "strata [flags] DIR" does: in the TUI on a
terminal, with plain progress otherwise.

The bundled files are written again on every run (edits to them are lost);
an existing rootfs.tar is kept. The build flags are those of strata.`,
		Example: `  strata example
  strata example --progress plain
  strata example --dir ~/strata-example --step`,
		Args: cobra.NoArgs,
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
