package snapshot

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
)

// RefError is an image reference that names no image strata can read: a
// bad form, or a name neither in the local store nor pullable. Its message
// names the reference and says which references are accepted, so callers
// need not add either.
type RefError struct {
	Ref string // as given
	Err error  // why it names no image
}

func (e *RefError) Error() string { return e.Err.Error() }
func (e *RefError) Unwrap() error { return e.Err }

// OpenArchive opens the image of an oci: or docker-archive: reference
// (platform picks from an OCI index; nil: this machine's).
func OpenArchive(r imageref.Ref, platform *v1.Platform) (v1.Image, error) {
	switch r.Transport {
	case imageref.OCI:
		return layers.ReadOCILayout(r.Path, r.Tag, platform)
	case imageref.DockerArchive:
		return layers.ReadDockerArchive(r.Path, r.Tag)
	}
	return nil, fmt.Errorf("%s is no oci: or docker-archive: reference", r)
}

// LoadImage finds an image (local store name or id, oci:, docker-archive:,
// a registry reference, pulled when the store lacks it) and makes sure its
// layers are in the store.
func LoadImage(ctx context.Context, s *layers.Store, ref string) (*v1.ConfigFile, error) {
	r, err := imageref.Parse(ref)
	if err != nil {
		return nil, &RefError{Ref: ref, Err: err}
	}
	p := platforms.Host()
	if r.IsArchive() {
		img, err := OpenArchive(r, &p)
		if err != nil {
			return nil, err
		}
		return s.ImportImage(img, nil)
	}
	if cfg, ok, err := LookupLocal(s, ref); ok || err != nil {
		return cfg, err
	}
	res, err := ResolveRegistry(ctx, s, ref, registry.Options{Platform: &p})
	if err != nil {
		return nil, err
	}
	return res.Config, nil
}

// LookupLocal finds ref in the local store by name (as written) or id
// (also a step's image).
func LookupLocal(s *layers.Store, ref string) (*v1.ConfigFile, bool, error) {
	rec, ok, err := s.LookupImage(ref)
	if err != nil || !ok {
		return nil, false, err
	}
	cfg, err := s.LoadConfig(rec)
	return cfg, true, err
}

// ResolveRegistry reads ref as a registry reference: the store's copy of
// its normalised name, or a pull (always asked with Pull). A ref that is
// no registry reference, or that cannot be pulled, is a *RefError.
func ResolveRegistry(ctx context.Context, s *layers.Store, ref string, o registry.Options) (*registry.Result, error) {
	r, err := registry.Parse(ref)
	if err != nil {
		return nil, &RefError{Ref: ref, Err: fmt.Errorf("image %q is not in the local store (strata images lists it), and it is no registry reference: %v; use scratch, a name built with -t, oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG] or a registry reference such as alpine:3.20", ref, err)}
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
	return nil, &RefError{Ref: ref, Err: fmt.Errorf("%s is not in the local store (strata images lists it), and pulling %s failed: %w (local images are names built with -t, oci:DIR[:TAG] and docker-archive:FILE[:NAME:TAG])", ref, r.Name, err)}
}
