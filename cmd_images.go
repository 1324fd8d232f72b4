package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", repo, tag, r.Config.Hex[:12], ago(r.Created), event.HumanSize(r.Size))
				printIndexImages(tw, store, r) // cmd_platforms.go: a multi-platform image's platforms
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image ids")
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
	var force bool
	c := &cobra.Command{
		Use:   "rm IMAGE...",
		Short: "Remove images (names or ids) from the local store",
		Long: `rm removes image names from the local store: a name, or an id (a unique
prefix of one) for the name of that image. An id whose image has several
names is refused unless -f (then every name goes), as with docker rmi.
Layers, blobs and build cache stay until strata prune.`,
		Example: `  strata rm myapp:1
  strata rm 4a00890d6de9`,
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
			untag := store.UntagSafe
			if force {
				untag = store.Untag
			}
			removed, err := untag(args...)
			if err != nil {
				return err
			}
			for _, n := range removed {
				fmt.Println("Untagged: " + n)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "an id removes every name of its image (without -f an id with several names is refused, as docker rmi does)")
	return c
}
