package build

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
)

// OpenImage opens an image reference that is not a registry one:
// oci:DIR[:tag], docker-archive:FILE[:ref], or a name in the local store.
// It returns nil, nil when the reference is none of these.
func OpenImage(s *layers.Store, ref string, platform *v1.Platform) (v1.Image, *v1.ConfigFile, error) {
	switch {
	case strings.HasPrefix(ref, "oci:"):
		dir, tag := splitRefTag(strings.TrimPrefix(ref, "oci:"))
		img, err := layers.ReadOCILayout(dir, tag, platform)
		return img, nil, err
	case strings.HasPrefix(ref, "docker-archive:"):
		file, tag := splitRefTag(strings.TrimPrefix(ref, "docker-archive:"))
		img, err := layers.ReadDockerArchive(file, tag)
		return img, nil, err
	}
	rec, ok, err := s.LookupImage(ref)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		cfg, err := s.LoadConfig(rec)
		return nil, cfg, err
	}
	return nil, nil, nil
}

// splitRefTag splits "path:tag"; a colon inside the path's last element
// only counts when what follows has no slash.
func splitRefTag(s string) (string, string) {
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Contains(s[i+1:], "/") {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// defaultResolve finds a base image (FROM, COPY --from) and makes sure
// its layers are in the store. The order: oci: and docker-archive:
// references; the local store by name or id as written (unless --pull);
// a registry reference, reused from the store under its normalised name
// (docker.io/library/alpine:3.20) or pulled, with each layer's download
// told as StepProgress events of the step that asked.
func (e *Executor) defaultResolve(ctx context.Context, ref string, platform *v1.Platform) (*v1.ConfigFile, error) {
	if isArchiveRef(ref) {
		img, _, err := OpenImage(e.Store, ref, platform)
		if err != nil {
			return nil, err
		}
		return e.Store.ImportImage(img, nil)
	}
	if _, perr := registry.Parse(ref); !e.Opt.Pull || perr != nil { // ids and odd local names are never pulled
		if cfg, ok, err := lookupLocal(e.Store, ref); ok || err != nil {
			if err == nil && platform != nil && !registry.PlatformFits(cfg, *platform) {
				// BuildKit's check, as for a pulled single-platform image
				if step := e.stepOf(ctx, ref); step >= 0 && step < len(e.Plan.Steps) {
					got := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
					e.emit(event.Warning{Base: event.Now(), Rule: "InvalidBaseImagePlatform", Line: e.Plan.Steps[step].StartLine,
						Message: fmt.Sprintf("base image %s is a %s image, not %s as this build asks; it is used anyway, as docker does", ref, got.String(), platform.String())})
				}
			}
			return cfg, err
		}
	}
	step := e.stepOf(ctx, ref)
	o := registry.Options{Insecure: e.Opt.InsecureRegistries, Platform: platform, Pull: e.Opt.Pull}
	if step >= 0 {
		o.Progress = progressEmitter(func(p event.StepProgress) {
			p.Base, p.Step = event.Now(), step
			e.emit(p)
		})
	}
	res, err := resolveRegistry(ctx, e.Store, ref, o)
	if err != nil {
		return nil, err
	}
	if step >= 0 && !res.Local {
		e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: pullSummary(res)})
	}
	if res.Warning != "" && step >= 0 && step < len(e.Plan.Steps) {
		e.emit(event.Warning{Base: event.Now(), Rule: "InvalidBaseImagePlatform", Message: res.Warning, Line: e.Plan.Steps[step].StartLine})
	}
	return res.Config, nil
}

// stepOf is the plan step resolving ref: the one ctx carries, or found.
func (e *Executor) stepOf(ctx context.Context, ref string) int {
	if step, ok := ctx.Value(stepKey{}).(int); ok {
		return step
	}
	return e.resolveStep(ref)
}

// LoadImage finds an image (local store name or id, oci:, docker-archive:,
// a registry reference, pulled when the store lacks it) and makes sure its
// layers are in the store.
func LoadImage(ctx context.Context, s *layers.Store, ref string) (*v1.ConfigFile, error) {
	p := frontend.HostPlatform()
	if isArchiveRef(ref) {
		img, _, err := OpenImage(s, ref, &p)
		if err != nil {
			return nil, err
		}
		return s.ImportImage(img, nil)
	}
	if cfg, ok, err := lookupLocal(s, ref); ok || err != nil {
		return cfg, err
	}
	res, err := resolveRegistry(ctx, s, ref, registry.Options{Platform: &p})
	if err != nil {
		return nil, err
	}
	return res.Config, nil
}

func isArchiveRef(ref string) bool {
	return strings.HasPrefix(ref, "oci:") || strings.HasPrefix(ref, "docker-archive:")
}

// lookupLocal finds ref in the local store by name (as written) or id.
func lookupLocal(s *layers.Store, ref string) (*v1.ConfigFile, bool, error) {
	rec, ok, err := s.LookupImage(ref)
	if err != nil || !ok {
		return nil, false, err
	}
	cfg, err := s.LoadConfig(rec)
	return cfg, true, err
}

// resolveRegistry reads ref as a registry reference: the store's copy of
// its normalised name, or a pull (always asked with Pull).
func resolveRegistry(ctx context.Context, s *layers.Store, ref string, o registry.Options) (*registry.Result, error) {
	r, err := registry.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("image %q is not in the local store (strata images lists it), and it is no registry reference: %v; use scratch, a name built with -t, oci:DIR[:tag], docker-archive:FILE or a registry reference such as alpine:3.20", ref, err)
	}
	res, err := registry.Resolve(ctx, s, ref, o)
	if err == nil {
		return res, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if o.Pull {
		hint := ""
		if _, ok, _ := s.LookupImage(ref); ok {
			hint = " (the local store has " + ref + "; without --pull it is used)"
		} else if _, ok, _ := s.LookupImage(r.Name); ok {
			hint = " (the local store has " + r.Name + "; without --pull it is used)"
		}
		return nil, fmt.Errorf("--pull: cannot check %s in its registry: %w%s", r.Name, err, hint)
	}
	return nil, fmt.Errorf("%s is not in the local store (strata images lists it), and pulling %s failed: %w (local images are names built with -t, oci:DIR[:tag] and docker-archive:FILE)", ref, r.Name, err)
}

// progressEmitter turns a pull's layer progress into StepProgress events.
func progressEmitter(emit func(event.StepProgress)) func(registry.Progress) {
	return func(p registry.Progress) {
		what := "pull " + shortHash(p.Layer)
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
		return fmt.Sprintf("%s is up to date (%s)", res.Ref.Name, shortHash(res.Digest))
	}
	return fmt.Sprintf("pulled %s (%s, %s): %d of %d layers downloaded, %s", res.Ref.Name, shortHash(res.Digest), res.Platform, res.Downloaded, res.Layers, event.HumanSize(res.Bytes))
}

// resolveStep is the plan step resolving ref: the FROM of the stage about
// to start (the first of Plan.Order not yet begun), or else a COPY --from
// of the stage being built. -1 when neither names ref.
func (e *Executor) resolveStep(ref string) int {
	p := e.Plan
	if p == nil {
		return -1
	}
	k := 0
	for k < len(p.Order) {
		if _, begun := e.stages[p.Order[k]]; !begun {
			break
		}
		k++
	}
	if k < len(p.Order) {
		if s := p.Stages[p.Order[k]]; s.BaseStage < 0 && s.Base == ref && len(s.Steps) > 0 {
			return s.Steps[0]
		}
	}
	if k == 0 {
		return -1
	}
	s := p.Stages[p.Order[k-1]]
	for i, c := range s.Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok && cp.From == ref && i+1 < len(s.Steps) {
			return s.Steps[i+1]
		}
	}
	return -1
}

// stepKey carries the plan step a resolve is for (FROM, COPY --from, RUN
// --mount from=), so pull progress lands on the right step.
type stepKey struct{}

func withStep(ctx context.Context, step int) context.Context {
	return context.WithValue(ctx, stepKey{}, step)
}
