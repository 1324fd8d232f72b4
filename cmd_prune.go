package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/build/cache"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

func newPruneCmd(g *globals) *cobra.Command {
	var all bool
	var keep string
	c := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove unreferenced layers and blobs, and build cache as asked",
		Long: `prune removes layers and blobs that no image of the local store and no
cache entry uses, and cache entries whose layers are gone.

  --all               also drop the whole build cache (entries, records,
                      context stat caches, RUN --mount=type=cache dirs):
                      only images keep layers
  --keep-storage SIZE drop the least recently used cache entries until the
                      layers still kept (images' layers included, never
                      removed) take at most SIZE (e.g. 2g, 500m)

prune needs the store to itself: it refuses to run while another strata
process uses the same --root. See docs/cache.md.`,
		Example: `  strata prune
  strata prune --keep-storage 2g
  strata prune --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opt := cache.PruneOptions{All: all}
			if keep != "" {
				n, err := parseSize(keep)
				if err != nil || n <= 0 {
					return fmt.Errorf("--keep-storage %q: want a size such as 500m or 2g", keep)
				}
				opt.KeepStorage = n
			}
			store, err := layers.Open(g.root)
			if err != nil {
				return err
			}
			defer store.Close()
			res, err := cache.Prune(store, opt)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted %s, %s, %s", count(res.CacheEntries, "cache entry", "cache entries"), count(res.Layers, "layer", "layers"), count(res.Blobs, "blob", "blobs"))
			if res.CacheMounts > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), ", %s", count(res.CacheMounts, "cache mount", "cache mounts"))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nTotal reclaimed space: %s\n", event.HumanSize(res.Bytes))
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "also remove the whole build cache")
	c.Flags().StringVar(&keep, "keep-storage", "", "keep at most SIZE of layers, dropping least recently used cache first")
	return c
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
