package build

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/registry"
)

// resolveImage opens the image ref for plan step step (FROM, COPY
// --from, RUN --mount from=): e.Resolve when set, else defaultResolve.
func (e *Executor) resolveImage(ctx context.Context, step int, ref string, platform *v1.Platform) (*v1.ConfigFile, error) {
	if e.Resolve != nil {
		return e.Resolve(ctx, ref, platform)
	}
	return e.defaultResolve(ctx, step, ref, platform)
}

// defaultResolve finds a base image (FROM, COPY --from) and makes sure
// its layers are in the store. The order: oci: and docker-archive:
// references; the local store by name or id as written (unless --pull);
// a registry reference, reused from the store under its normalised name
// (docker.io/library/alpine:3.20) or pulled, with each layer's download
// told as StepProgress events of the step that asked.
func (e *Executor) defaultResolve(ctx context.Context, step int, ref string, platform *v1.Platform) (*v1.ConfigFile, error) {
	r, err := imageref.Parse(ref)
	if err != nil {
		return nil, err
	}
	if r.IsArchive() {
		img, err := snapshot.OpenArchive(r, platform)
		if err != nil {
			return nil, err
		}
		return e.Store.ImportImage(img, nil)
	}
	if _, perr := r.Registry(); !e.Opt.Pull || perr != nil { // ids and odd local names are never pulled
		if cfg, ok, err := snapshot.LookupLocal(e.Store, ref); ok || err != nil {
			if err == nil && platform != nil && !platforms.Fits(platforms.Of(cfg), *platform) {
				// BuildKit's check, as for a pulled single-platform image
				got := platforms.Of(cfg)
				e.emit(event.Warning{Base: event.Now(), Rule: "InvalidBaseImagePlatform", Line: e.Plan.Steps[step].StartLine,
					Message: fmt.Sprintf("base image %s is a %s image, not %s as this build asks; it is used anyway, as docker does", ref, got.String(), platform.String())})
			}
			return cfg, err
		}
	}
	o := registry.Options{Insecure: e.Opt.InsecureRegistries, Platform: platform, Pull: e.Opt.Pull,
		Progress: progressEmitter(func(p event.StepProgress) {
			p.Base, p.Step = event.Now(), step
			e.emit(p)
		})}
	if cfg, ok := e.resolveLazy(ctx, step, ref, o); ok { // cachestep.go
		return cfg, nil
	}
	res, err := snapshot.ResolveRegistry(ctx, e.Store, ref, o)
	if err != nil {
		return nil, err
	}
	if !res.Local {
		e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: pullSummary(res)})
	}
	if res.Warning != "" {
		e.emit(event.Warning{Base: event.Now(), Rule: "InvalidBaseImagePlatform", Message: res.Warning, Line: e.Plan.Steps[step].StartLine})
	}
	return res.Config, nil
}

// progressEmitter turns a pull's layer progress into StepProgress events.
func progressEmitter(emit func(event.StepProgress)) func(registry.Progress) {
	return func(p registry.Progress) {
		what := "pull " + snapshot.ShortHash(p.Layer)
		switch p.State {
		case "exists":
			what += " (already stored)"
		case "extracting":
			what += " (unpacking)"
		}
		emit(event.StepProgress{What: what, Done: p.Done, Total: p.Total})
	}
}

func pullSummary(res *registry.Result) string {
	if res.UpToDate {
		return fmt.Sprintf("%s is up to date (%s)", res.Ref.Name, snapshot.ShortHash(res.Digest))
	}
	return fmt.Sprintf("pulled %s (%s, %s): %d of %d layers downloaded, %s", res.Ref.Name, snapshot.ShortHash(res.Digest), res.Platform, res.Downloaded, res.Layers, event.HumanSize(res.Bytes))
}
