package build

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-build/strata/layers"
)

func (e *Executor) export(ctx context.Context, cfg *v1.ConfigFile, o Output) error {
	switch o.Type {
	case "oci", "docker":
		img, err := e.Store.ExportImage(cfg)
		if err != nil {
			return fmt.Errorf("--output type=%s: %w", o.Type, err)
		}
		if o.Type == "oci" {
			if err := layers.WriteOCILayout(o.Dest, img, e.Opt.Tags); err != nil {
				return fmt.Errorf("--output type=oci,dest=%s: %w", o.Dest, err)
			}
			return nil
		}
		if err := layers.WriteDockerArchive(o.Dest, img, e.Opt.Tags); err != nil {
			return fmt.Errorf("--output type=docker,dest=%s: %w", o.Dest, err)
		}
		return nil
	case "registry":
		return errors.New("--output type=registry: pushing to registries is not available in this version of strata; export with type=oci,dest=DIR and push with skopeo")
	}
	return fmt.Errorf("--output: unknown type %q", o.Type)
}
