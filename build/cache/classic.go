package cache

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/layers"
)

// docker's classic --cache-from IMAGE: a plain image that carries no
// strata cache records. Its history and layers are matched step by step
// where strata can prove the match, as docker's classic builder did: the
// step's parent is a prefix of the image (the same layer diffIDs, the same
// history entries, so the same base and every earlier step matched), and
// the image's next history entry is what strata writes for this
// instruction. Then a RUN's result is that entry's layer (a RUN sees only
// its parent, its args and its environment, all of which created_by and
// the parent pin down), and a metadata step's result is its config with
// that entry. A COPY or ADD reads files the image records no checksum of:
// it cannot be proven the same, so it misses and says so. Layers of
// matched steps stay in the registry (layers.RemoteLayer) as for any
// shared cache.

// ClassicImage is such an image (the executor matches a step against it:
// build/cachestep.go).
type ClassicImage struct {
	Source string
	Config *v1.ConfigFile
}

// At is where a step on parent cfg would be in the image: the index of
// its next history entry and of its next layer; false when cfg is not a
// prefix of the image.
func (im *ClassicImage) At(cfg *v1.ConfigFile) (h, l int, ok bool) {
	h, l = len(cfg.History), len(cfg.RootFS.DiffIDs)
	if h >= len(im.Config.History) || l > len(im.Config.RootFS.DiffIDs) || !slices.Equal(cfg.RootFS.DiffIDs, im.Config.RootFS.DiffIDs[:l]) {
		return 0, 0, false
	}
	for i, e := range cfg.History {
		if e.CreatedBy != im.Config.History[i].CreatedBy || e.EmptyLayer != im.Config.History[i].EmptyLayer {
			return 0, 0, false
		}
	}
	return h, l, true
}

// Unprovable says why step c cannot be proven the same as the image's
// next history entry ("" when it may be): COPY, ADD and RUN with a bind
// mount read files the image records no checksum of.
func (im *ClassicImage) Unprovable(c instructions.Command) string {
	switch c := c.(type) {
	case *instructions.CopyCommand:
		return fmt.Sprintf("cache-from %s has no checksum for COPY: a plain image records no checksum of the files copied, so this step cannot be proven the same (an image pushed with --cache-to type=inline can)", im.Source)
	case *instructions.AddCommand:
		return fmt.Sprintf("cache-from %s has no checksum for ADD: a plain image records no checksum of the files added, so this step cannot be proven the same (an image pushed with --cache-to type=inline can)", im.Source)
	case *instructions.RunCommand:
		for _, m := range instructions.GetMounts(c) {
			if m.Type == instructions.MountTypeBind {
				return fmt.Sprintf("cache-from %s has no checksum for RUN --mount=type=bind: the files it reads cannot be proven the same", im.Source)
			}
		}
	}
	return ""
}

// tarEntries counts the entries of a stored layer's tar (its change list:
// one entry a path added, changed or deleted; an opaque directory's
// marker is not one). Only headers are read.
func tarEntries(s *layers.Store, d v1.Hash) (int, error) {
	f, err := s.OpenBlob(d)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if path.Base(h.Name) != ".wh..wh..opq" {
			n++
		}
	}
}
