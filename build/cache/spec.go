package cache

import (
	"fmt"
	"strings"

	"github.com/strata-build/strata/registry"
)

// The --cache-to and --cache-from values (Shared uses them).

// Spec is one --cache-to or --cache-from value.
type Spec struct {
	Type string // registry, local, inline
	Ref  string // type=registry
	Dir  string // type=local: dest (export) or src (import)
	Mode string // min (default) or max
}

// ParseSpec reads a --cache-to (export) or --cache-from value in
// docker buildx's form: type=registry,ref=REF[,mode=min|max],
// type=local,dest=DIR|src=DIR, type=inline; a bare REF is
// type=registry,ref=REF (as buildx).
func ParseSpec(flag, s string, export bool) (Spec, error) {
	var c Spec
	if !strings.Contains(s, "=") {
		c.Type, c.Ref = "registry", s
	}
	for _, kv := range strings.Split(s, ",") {
		if c.Ref == s {
			break
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("%s %q: %q is not KEY=VALUE (e.g. type=registry,ref=REGISTRY/REPO:TAG)", flag, s, kv)
		}
		switch k {
		case "type":
			c.Type = v
		case "ref":
			c.Ref = v
		case "dest":
			c.Dir = v
		case "src":
			c.Dir = v
		case "mode":
			c.Mode = v
		case "oci-mediatypes", "image-manifest", "compression", "ignore-error":
			// buildx options strata's format makes moot: accepted.
		default:
			return c, fmt.Errorf("%s %q: unknown key %q (want type, ref, dest, src, mode)", flag, s, k)
		}
	}
	if c.Mode == "" {
		c.Mode = "min"
	}
	if c.Mode != "min" && c.Mode != "max" {
		return c, fmt.Errorf("%s %q: mode=%s: want min (the final stage's steps) or max (every stage's)", flag, s, c.Mode)
	}
	switch c.Type {
	case "registry":
		if c.Ref == "" {
			return c, fmt.Errorf("%s %q: type=registry needs ref=REGISTRY/REPOSITORY:TAG", flag, s)
		}
		if _, err := registry.Parse(c.Ref); err != nil {
			return c, fmt.Errorf("%s %q: ref=%s: %w", flag, s, c.Ref, err)
		}
	case "local":
		if c.Dir == "" {
			if export {
				return c, fmt.Errorf("%s %q: type=local needs dest=DIR", flag, s)
			}
			return c, fmt.Errorf("%s %q: type=local needs src=DIR", flag, s)
		}
	case "inline":
		if !export {
			return c, fmt.Errorf("%s %q: an inline cache is read from the image: --cache-from type=registry,ref=IMAGE", flag, s)
		}
		if c.Mode == "max" {
			return c, fmt.Errorf("%s %q: type=inline holds the final stage's steps only (mode=min); use type=registry or type=local for mode=max", flag, s)
		}
	case "":
		return c, fmt.Errorf("%s %q: missing type= (registry, local or inline)", flag, s)
	default:
		return c, fmt.Errorf("%s %q: type=%s: want registry, local or inline", flag, s, c.Type)
	}
	return c, nil
}

// Name names the cache in messages.
func (c Spec) Name() string {
	if c.Type == "local" {
		return c.Dir + " (type=local)"
	}
	return c.Ref
}
