package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/registry"
)

func newPullCmd(g *globals) *cobra.Command {
	var platform string
	var insecure []string
	c := &cobra.Command{
		Use:   "pull [flags] IMAGE",
		Short: "Pull an image from a registry into the local store",
		Long: `Pull an image from a registry into the local store and print its digest.

IMAGE is a registry reference: alpine (docker.io/library/alpine:latest),
ghcr.io/o/r:tag, 127.0.0.1:5000/app@sha256:... . Loopback registries may
use plain HTTP; others need verified TLS unless named with
--insecure-registry. Credentials come from docker's config
(~/.docker/config.json, or $DOCKER_CONFIG) and its credential helpers.
Builds use a pulled image offline from then on (unless --pull).`,
		Example: `  strata pull alpine:3.20
  strata pull --platform linux/arm64 alpine:3.20
  strata pull --insecure-registry registry.lan:5000 registry.lan:5000/app:1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("pull needs one IMAGE, a registry reference such as alpine:3.20 or 127.0.0.1:5000/app:1")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o := registry.Options{Insecure: insecure}
			if platform != "" {
				p, err := platforms.Parse(platform)
				if err != nil {
					return fmt.Errorf("--platform: %w", err)
				}
				o.Platform = &p
			}
			if _, err := registry.NewPolicy(insecure); err != nil {
				return err
			}
			ref, err := imageref.Parse(args[0])
			if err != nil {
				return fmt.Errorf("pull: %w", err)
			}
			r, err := ref.Registry()
			if err != nil {
				return fmt.Errorf("pull: %w", err)
			}
			ctx, store, done, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			fmt.Printf("Pulling %s\n", r.Name)
			var mu sync.Mutex
			o.Progress = func(p registry.Progress) {
				var line string
				switch p.State {
				case "exists":
					line = "Already exists"
				case "verified":
					line = "Download complete (" + event.HumanSize(p.Done) + ", digest verified)"
				case "done":
					line = "Pull complete"
				default:
					return
				}
				mu.Lock()
				fmt.Printf("%s: %s\n", short(p.Layer), line)
				mu.Unlock()
			}
			res, err := registry.Pull(ctx, store, args[0], o)
			if err != nil {
				if ctx.Err() != nil {
					return errors.New("pull cancelled")
				}
				return fmt.Errorf("pull %s: %w", r.Name, err)
			}
			if res.Warning != "" {
				fmt.Fprintln(os.Stderr, "WARNING: "+res.Warning)
			}
			if res.Digest.Hex != "" {
				fmt.Printf("Digest: %s\n", res.Digest)
			}
			status := "Downloaded newer image for "
			if res.UpToDate {
				status = "Image is up to date for "
			}
			fmt.Fprintf(os.Stdout, "Status: %s%s\n", status, res.Ref.Name)
			fmt.Printf("Image ID: %s (%s)\n", res.Record.Config, res.Platform)
			fmt.Println(res.Ref.Name)
			return nil
		},
	}
	c.Flags().StringVar(&platform, "platform", "", "os/arch[/variant] to pick from a multi-platform image (default: this machine's)")
	c.Flags().StringArrayVar(&insecure, "insecure-registry", nil, "registry HOST[:PORT] or CIDR reached over plain HTTP or unverified TLS (repeatable; loopback always is)")
	return c
}

func short(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Hex[:12]
	}
	return strings.TrimPrefix(h.String(), "sha256:")
}
