package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/registry"
)

func newPushCmd(g *globals) *cobra.Command {
	var insecure []string
	c := &cobra.Command{
		Use:   "push [flags] IMAGE [DEST]",
		Short: "Push an image of the local store to a registry",
		Long: `Push an image of the local store (a name or id from strata images) to DEST,
a registry reference with a tag (default: the image's own name), and print
the pushed manifest digest. The config goes out unchanged, so the registry's
config digest is the local image id. Registries are reached as for strata
pull (loopback may use plain HTTP; --insecure-registry for others).`,
		Example: `  strata push 127.0.0.1:5000/app:1
  strata push myapp:1 127.0.0.1:5000/app:1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return errors.New("push needs IMAGE and optionally DEST: strata push 127.0.0.1:5000/app:1, or strata push app:1 127.0.0.1:5000/app:1")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := registry.NewPolicy(insecure); err != nil {
				return err
			}
			if r, err := imageref.Parse(args[0]); err != nil {
				return fmt.Errorf("push: %w", err)
			} else if r.IsArchive() {
				return fmt.Errorf("push %s: IMAGE is an image of the local store (a name or id, strata images lists them), not an archive; bring it in first, e.g. FROM %s in a Dockerfile built with -t NAME", args[0], args[0])
			}
			dest := ""
			if len(args) == 2 {
				dest = args[1]
				r, err := imageref.Parse(dest)
				if err == nil {
					_, err = r.Registry()
				}
				if err != nil {
					return fmt.Errorf("push: DEST %w", err)
				}
			}
			ctx, store, done, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			p, err := pushImage(ctx, store, args[0], dest, registry.Options{Insecure: insecure}) // cmd_platforms.go: an index too
			if err != nil {
				if ctx.Err() != nil {
					return errors.New("push cancelled")
				}
				return fmt.Errorf("push %s: %w", args[0], err)
			}
			fmt.Printf("The push refers to repository [%s]\n", p.Ref.Repo())
			fmt.Printf("%s: digest: %s size: %d\n", p.Ref.Tag, p.Digest, p.Size)
			return nil
		},
	}
	c.Flags().StringArrayVar(&insecure, "insecure-registry", nil, "registry HOST[:PORT] or CIDR reached over plain HTTP or unverified TLS (repeatable; loopback always is)")
	return c
}
