package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/build/space"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/tui"
)

func newInspectCmd(g *globals) *cobra.Command {
	var plain, noTrunc bool
	var platform string
	var ci ciOpts
	c := &cobra.Command{
		Use:   "inspect [flags] IMAGE",
		Short: "Open the TUI on an existing image's layers (a table when not on a terminal)",
		Long: `inspect shows an existing image the way a build is shown: its history's
created_by lines in place of the Dockerfile, its layers in place of steps,
each layer's files, the image config and a summary.

IMAGE is ` + imageref.Forms + `.

On a terminal it opens the TUI; otherwise (or with --plain) it prints one
row per history entry: what made it, the layer's size and its files, then
the wasted-space analysis: what each layer ships that the final image
never shows, the line that shipped it, the line that made it dead and the
fix.

--ci gates the image on that analysis (dive's .dive-ci rules and strata's
size limits) and exits 1 when a rule fails.`,
		Example: `  strata inspect strata-example
  strata inspect --plain alpine:3.20
  strata inspect oci:out/
  strata inspect --ci --lowestEfficiency 0.95 --maxLayerSize 200MB app:1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("inspect takes one IMAGE, got %d arguments; IMAGE is %s", len(args), imageref.Forms)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ci.check(); err != nil {
				return err
			}
			ref := args[0]
			if platform != "" { // cmd_platforms.go: one image of an index, by id
				store, err := layers.Open(g.root)
				if err != nil {
					return err
				}
				_, ref, err = platformImage(cmd.Context(), store, ref, platform)
				store.Close()
				if err != nil {
					return err
				}
			}
			return runInspect(cmd.Context(), g, ref, plain || ci.on || !useTUI("auto"), noTrunc, &ci)
		},
	}
	c.Flags().BoolVar(&plain, "plain", false, "print the table of layers even on a terminal")
	c.Flags().StringVar(&platform, "platform", "", "os/arch[/variant]: inspect this platform's image of a multi-platform IMAGE")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not cut long created_by lines nor layer digests in the table")
	ci.register(c, "the image")
	return c
}

func runInspect(parent context.Context, g *globals, ref string, plain, noTrunc bool, ci *ciOpts) error {
	ctx, store, done, err := g.openStore(parent)
	if err != nil {
		return err
	}
	defer done()
	sweepSandbox()
	in, err := snapshot.Inspect(ctx, store, ref)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("inspect cancelled")
		}
		var re *snapshot.RefError
		if errors.As(err, &re) { // it names the reference and what is accepted
			return err
		}
		return fmt.Errorf("inspect %s: %w (IMAGE is %s)", ref, err, imageref.Forms)
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	events := make(chan event.Event, 256)
	streamErr := make(chan error, 1)
	go func() { streamErr <- in.Stream(sctx, events) }()
	if plain {
		var evs []event.Event
		var col space.Collector
		for ev := range events {
			evs = append(evs, ev)
			col.Observe(ev)
		}
		if err := <-streamErr; err != nil {
			return err
		}
		a, err := col.Run(ctx, store, space.Options{Compress: true})
		if err != nil {
			return fmt.Errorf("inspect %s: wasted-space analysis: %w", ref, err)
		}
		if ci.on {
			return ci.gate(os.Stdout, a)
		}
		if err := printInspection(os.Stdout, in, evs, noTrunc); err != nil {
			return err
		}
		printSpace(os.Stdout, a)
		return nil
	}
	uiErr := tui.Run(ctx, tui.Options{Events: events, Backend: snapshot.NewBackend(store, scancel), Title: ref, HasOutput: true})
	scancel()
	go func() { // drain what the stream still sends
		for range events {
		}
	}()
	<-streamErr
	return uiErr
}

// printInspection is the table of `strata inspect` without a terminal.
func printInspection(w io.Writer, in *snapshot.Inspection, evs []event.Event, noTrunc bool) error {
	done := map[int]event.StepDone{}
	for _, ev := range evs {
		switch e := ev.(type) {
		case event.StepDone:
			done[e.Step] = e
		case event.Warning:
			fmt.Fprintln(os.Stderr, "warning: "+e.Message)
		}
	}
	fmt.Fprintf(w, "IMAGE    %s\n", in.Ref)
	fmt.Fprintf(w, "ID       %s\n", in.ImageID)
	if c := in.Config; c != nil && c.OS != "" {
		fmt.Fprintf(w, "PLATFORM %s/%s\n", c.OS, c.Architecture)
	}
	entries := fmt.Sprintf("%d history entries", len(in.Steps))
	if len(in.Steps) == 1 {
		entries = "1 history entry"
	}
	fmt.Fprintf(w, "SIZE     %s in %s, %s\n\n", event.HumanSize(in.Size), plural(len(in.Config.RootFS.DiffIDs), "layer"), entries)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tCREATED BY\tLAYER\tSIZE\tFILES")
	for i, s := range in.Steps {
		text := s.Text
		if !noTrunc && len([]rune(text)) > 60 {
			text = string([]rune(text)[:59]) + "…"
		}
		layer, size, files := "-", "-", "-"
		if d := done[i]; d.DiffID != "" {
			layer = strings.TrimPrefix(d.DiffID, "sha256:")[:12]
			if noTrunc {
				layer = d.DiffID
			}
			size = event.HumanSize(d.Size)
			files = fmt.Sprint(d.Files)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i+1, text, layer, size, files)
	}
	return tw.Flush()
}
