package build

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/registry"
)

// export writes the stored image whose config digest is imageID to the
// output o (-o type=oci|docker|registry).
func (e *Executor) export(ctx context.Context, imageID v1.Hash, o frontend.Output) error {
	switch o.Type {
	case "oci", "docker":
		// snapshot.WriteImage is shared with the TUI's save. The names
		// are -t's, unless the output names its own (-o oci:DIR:TAG).
		names := e.Opt.Tags
		if len(o.Names) > 0 {
			names = o.Names
		}
		if err := snapshot.WriteImage(e.Store, imageID, o.Type, o.Dest, names); err != nil {
			return fmt.Errorf("--output type=%s,dest=%s: %w", o.Type, o.Dest, err)
		}
		return nil
	case "registry":
		return e.push(ctx, imageID, o)
	}
	return fmt.Errorf("--output: unknown type %q", o.Type)
}

// push sends the image to every -t tag's registry (-o type=registry) and
// tells each pushed digest as an info line of the last step.
func (e *Executor) push(ctx context.Context, imageID v1.Hash, o frontend.Output) error {
	names := append(slices.Clone(e.Opt.Tags), o.Names...)
	if len(names) == 0 {
		return errors.New("--output type=registry needs a name to push to: add -t REGISTRY/REPOSITORY[:TAG] (e.g. -t 127.0.0.1:5000/app:1; a name without a registry is pushed to Docker Hub, as with docker)")
	}
	step := -1
	if t := e.Plan.Stages[e.Plan.Target]; len(t.Steps) > 0 {
		step = t.Steps[len(t.Steps)-1]
	}
	for _, tag := range names {
		p, err := registry.PushConfig(ctx, e.Store, imageID, tag, registry.Options{Insecure: e.Opt.InsecureRegistries, Annotations: e.InlineCache()})
		if err != nil {
			return fmt.Errorf("--output type=registry: push %s: %w", tag, err)
		}
		if step >= 0 {
			e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: fmt.Sprintf("pushed %s: digest: %s size: %d", p.Ref.Name, p.Digest, p.Size)})
		}
	}
	return nil
}

// outputNames is how BuildDone names an output: the path, or for a push
// the names pushed.
func (e *Executor) outputName(o frontend.Output) string {
	if o.Type == "registry" {
		return "registry:" + strings.Join(append(slices.Clone(e.Opt.Tags), o.Names...), ",")
	}
	return o.Type + ":" + o.Dest
}
