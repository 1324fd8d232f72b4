package registry

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/layers"
)

// pulled is what the store remembers of one pulled name: what the
// reference resolved to in the registry, so a later build can reuse it
// offline and --pull can tell whether the registry has something newer.
type pulled struct {
	// Digest is what the reference pointed to: the manifest list's digest
	// for a multi-platform image, else the image manifest's.
	Digest v1.Hash `json:"digest"`
	// Manifest is the platform image's manifest digest in the registry.
	Manifest v1.Hash `json:"manifest"`
	Config   v1.Hash `json:"config"` // the image id
	Platform string  `json:"platform"`
	// Asked is the platform the pull asked for, when the image is for
	// another one (a single-platform image used anyway, as docker does):
	// the same question later is answered from the store, offline.
	Asked string    `json:"asked,omitempty"`
	Time  time.Time `json:"time"`
}

// pulledPath is ROOT/images/pulled.json (names -> registry digests), kept
// beside the image index and guarded by its own lock file.
func pulledPath(s *layers.Store) string {
	return filepath.Join(s.Root(), "images", "pulled.json")
}

// withPulled runs fn on pulled.json under its lock file (layers.UpdateJSON);
// with write, fn's true writes the map back.
func withPulled(s *layers.Store, write bool, fn func(m map[string]pulled) bool) error {
	err := layers.UpdateJSON(pulledPath(s), pulledPath(s)+".lock", write, func(m map[string]pulled) (bool, error) {
		return fn(m), nil
	})
	if je := (*layers.JSONFileError)(nil); errors.As(err, &je) {
		return fmt.Errorf("%w (remove it; pulls are re-checked then)", je)
	}
	return err
}

func lookupPulled(s *layers.Store, name string) (pulled, bool) {
	var p pulled
	var ok bool
	withPulled(s, false, func(m map[string]pulled) bool {
		p, ok = m[name]
		return false
	})
	return p, ok
}

// pulledByDigest finds a pull of repo whose reference resolved to digest
// (a build FROM repo@digest after a pull of repo:tag).
func pulledByDigest(s *layers.Store, r Ref) (pulled, bool) {
	var p pulled
	var ok bool
	withPulled(s, false, func(m map[string]pulled) bool {
		for n, v := range m {
			if ref, err := Parse(n); err == nil && ref.Repo() == r.Repo() && (v.Digest.String() == r.Digest || v.Manifest.String() == r.Digest) {
				p, ok = v, true
				return false
			}
		}
		return false
	})
	return p, ok
}

func remember(s *layers.Store, name string, p pulled) error {
	return withPulled(s, true, func(m map[string]pulled) bool {
		m[name] = p
		return true
	})
}
