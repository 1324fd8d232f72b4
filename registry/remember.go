package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

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

func withPulled(s *layers.Store, write bool, fn func(m map[string]pulled) bool) error {
	lf, err := os.OpenFile(pulledPath(s)+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	how := unix.LOCK_SH
	if write {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(lf.Fd()), how); err != nil {
		return err
	}
	m := map[string]pulled{}
	b, err := os.ReadFile(pulledPath(s))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w (remove it; pulls are re-checked then)", pulledPath(s), err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if !fn(m) || !write {
		return nil
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return layers.WriteFileAtomic(pulledPath(s), func(w io.Writer) error {
		_, err := w.Write(out)
		return err
	})
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
