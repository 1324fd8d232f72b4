package snapshot

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
		dir, tag := SplitRefTag(strings.TrimPrefix(ref, "oci:"))
		img, err := layers.ReadOCILayout(dir, tag, platform)
		return img, nil, err
	case strings.HasPrefix(ref, "docker-archive:"):
		file, tag := SplitRefTag(strings.TrimPrefix(ref, "docker-archive:"))
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

// SplitRefTag splits "path:tag"; a colon inside the path's last element
// only counts when what follows has no slash.
func SplitRefTag(s string) (string, string) {
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Contains(s[i+1:], "/") {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// LoadImage finds an image (local store name or id, oci:, docker-archive:,
// a registry reference, pulled when the store lacks it) and makes sure its
// layers are in the store.
func LoadImage(ctx context.Context, s *layers.Store, ref string) (*v1.ConfigFile, error) {
	p := frontend.HostPlatform()
	if IsArchiveRef(ref) {
		img, _, err := OpenImage(s, ref, &p)
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

func IsArchiveRef(ref string) bool {
	return strings.HasPrefix(ref, "oci:") || strings.HasPrefix(ref, "docker-archive:")
}

// LookupLocal finds ref in the local store by name (as written) or id.
func LookupLocal(s *layers.Store, ref string) (*v1.ConfigFile, bool, error) {
	rec, ok, err := s.LookupImage(ref)
	if err != nil || !ok {
		return nil, false, err
	}
	cfg, err := s.LoadConfig(rec)
	return cfg, true, err
}

// ResolveRegistry reads ref as a registry reference: the store's copy of
// its normalised name, or a pull (always asked with Pull).
func ResolveRegistry(ctx context.Context, s *layers.Store, ref string, o registry.Options) (*registry.Result, error) {
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
