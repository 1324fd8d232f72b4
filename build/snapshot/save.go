package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/layers"
)

// SaveDestinations says what SaveImage (the TUI's S) accepts.
const SaveDestinations = "NAME[:TAG] (a name in the local store), oci:DIR[:TAG] (an OCI layout) or docker-archive:FILE[:NAME:TAG] (a tarball for docker/podman load; docker:FILE too)"

// untaggedRepo names an image saved to an OCI layout with a tag but no
// name.
const untaggedRepo = imageref.UntaggedRepo

// SaveDest is a parsed save destination.
type SaveDest struct {
	Type string // "tag", "oci" or "docker"
	Dest string // the name (tag), the layout dir (oci) or the file (docker)
	Ref  string // oci: the tag; docker: the NAME:TAG written into the tarball
}

// ParseSaveDest reads where to save an image: a local store name, oci:DIR[:TAG],
// docker-archive:FILE[:NAME:TAG] or docker:FILE[:NAME:TAG]; --output's
// type=oci,dest=DIR and type=docker,dest=FILE are accepted too.
func ParseSaveDest(s string) (SaveDest, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return SaveDest{}, fmt.Errorf("where to? want %s", SaveDestinations)
	case strings.HasPrefix(s, "type="):
		o, err := frontend.ParseOutput(s)
		if err != nil {
			return SaveDest{}, err
		}
		if o.Type == "registry" {
			return SaveDest{}, errors.New("type=registry: pushing is not available here; save to a name, oci:DIR or docker-archive:FILE")
		}
		return SaveDest{Type: o.Type, Dest: o.Dest}, nil
	case strings.HasPrefix(s, "oci:"), strings.HasPrefix(s, "docker-archive:"), strings.HasPrefix(s, "docker:"):
		if rest, ok := strings.CutPrefix(s, "docker:"); ok { // a save's short name for docker-archive:
			s = "docker-archive:" + rest
		}
		r, err := imageref.Parse(s)
		if err != nil {
			return SaveDest{}, err
		}
		typ := "oci"
		if r.Transport == imageref.DockerArchive {
			typ = "docker"
		}
		return SaveDest{Type: typ, Dest: r.Path, Ref: r.Tag}, nil
	}
	n, err := layers.NormalizeName(s)
	if err != nil {
		return SaveDest{}, fmt.Errorf("%w; want %s", err, SaveDestinations)
	}
	return SaveDest{Type: "tag", Dest: n}, nil
}

// SaveImage writes the stored image whose config digest is imageID to
// dest (see ParseSaveDest) and says what it wrote.
func SaveImage(s *layers.Store, imageID, dest string) (string, error) {
	d, err := ParseSaveDest(dest)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", errors.New("no image store")
	}
	h, err := v1.NewHash(imageID)
	if err != nil {
		return "", fmt.Errorf("image id %q: %w", imageID, err)
	}
	cfg, err := s.LoadConfig(layers.ImageRecord{Config: h})
	if err != nil {
		return "", fmt.Errorf("image %s: %w", ShortHash(h), err)
	}
	switch d.Type {
	case "tag":
		rec, err := s.SaveImage(cfg)
		if err != nil {
			return "", err
		}
		if err := s.Tag(d.Dest, rec); err != nil {
			return "", err
		}
		return "tagged " + d.Dest, nil
	default: // "oci" or "docker"
		what, named, ref := "docker archive "+absPath(d.Dest), " ("+d.Ref+")", d.Ref
		if d.Type == "oci" {
			what, named, ref = "OCI layout "+absPath(d.Dest), " (tag "+d.Ref+")", untaggedRepo+":"+d.Ref
		}
		var refs []string
		if d.Ref != "" {
			refs, what = []string{ref}, what+named
		}
		if err := WriteImage(s, h, d.Type, d.Dest, refs); err != nil {
			return "", err
		}
		return what, nil
	}
}

// WriteImage exports the stored image whose config digest is config as an
// OCI layout dir (typ "oci") or a docker tarball file (typ "docker"),
// named with refs. It is what -o type=oci|docker and the TUI's save use.
func WriteImage(s *layers.Store, config v1.Hash, typ, dest string, refs []string) error {
	img, err := s.Image(config)
	if err != nil {
		return err
	}
	if typ == "oci" {
		return layers.WriteOCILayout(dest, img, refs)
	}
	// A tarball into a folder not made yet: made, as --report does.
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	return layers.WriteDockerArchive(dest, img, refs)
}

// Save writes the image a build made (or an inspected image) to dest; it
// implements the TUI's save form.
func (b *Backend) Save(imageID, dest string) (string, error) {
	return SaveImage(b.Store, imageID, dest)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func ShortHash(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}
