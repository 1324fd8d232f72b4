package build

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/layers"
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

// defaultResolve imports a base image into the store and returns its
// config.
func (e *Executor) defaultResolve(ctx context.Context, ref string, platform *v1.Platform) (*v1.ConfigFile, error) {
	img, cfg, err := OpenImage(e.Store, ref, platform)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		return cfg, nil
	}
	if img == nil {
		return nil, fmt.Errorf("image %q is not in the local store (strata images lists it); use scratch, oci:DIR[:tag], docker-archive:FILE or a name built with -t", ref)
	}
	return e.Store.ImportImage(img, nil)
}

// LoadImage finds an image (local store name or id, oci:, docker-archive:)
// and makes sure its layers are in the store.
func LoadImage(ctx context.Context, s *layers.Store, ref string) (*v1.ConfigFile, error) {
	p := hostPlatform()
	img, cfg, err := OpenImage(s, ref, &p)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		return cfg, nil
	}
	if img == nil {
		return nil, fmt.Errorf("no image %q in the local store (strata images lists them); or use oci:DIR[:tag] or docker-archive:FILE", ref)
	}
	return s.ImportImage(img, nil)
}
