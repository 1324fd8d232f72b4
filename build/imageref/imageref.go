// Package imageref is strata's one grammar of image references, read the
// same way by build (FROM, COPY --from, -o), run, inspect, save, pull and
// push:
//
//	oci:DIR[:TAG]                an OCI image layout (TAG: its ref.name)
//	docker-archive:FILE[:NAME:TAG]  a `docker save` tarball (NAME:TAG: one of its RepoTags)
//	NAME[:TAG], NAME@sha256:…    a name in the local store or a registry reference
//	ID                           an image id in the local store: 64 hex digits,
//	                             sha256:HEX (4 to 64 digits), or a prefix of
//	                             4 or more hex digits (also a step's image)
//
// Parse says which form a string is; the registry form is read by
// registry.Parse, the store's names by layers.NormalizeName: this package
// only splits, so that every command splits alike.
package imageref

import (
	"fmt"
	"strings"

	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
)

// Transport says where an image reference points.
type Transport string

const (
	// Named is a local store name or id, or a registry reference.
	Named Transport = ""
	// OCI is an OCI image layout directory.
	OCI Transport = "oci"
	// DockerArchive is a `docker save` tarball.
	DockerArchive Transport = "docker-archive"
)

// Forms says, for messages, which image references strata reads.
const Forms = "a local store name or id (strata images lists them), oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG] or a registry reference"

// Ref is a parsed image reference.
type Ref struct {
	Transport Transport
	// Path is the layout directory (OCI) or the tarball (DockerArchive).
	Path string
	// Tag picks an image of an archive: the layout's tag (OCI), or the
	// NAME:TAG of a tarball (DockerArchive); "" for its only image.
	Tag string
	// Name is a Named reference as written: a store name, an id or a
	// registry reference.
	Name string
	// ID is true when Name can only be an image id (64 hex digits, or
	// sha256: and hex digits): it is looked up in the store, never pulled.
	ID bool
}

// String is the reference written back in the grammar; Parse(r.String())
// is r.
func (r Ref) String() string {
	switch r.Transport {
	case OCI, DockerArchive:
		if r.Tag != "" {
			return string(r.Transport) + ":" + r.Path + ":" + r.Tag
		}
		return string(r.Transport) + ":" + r.Path
	}
	return r.Name
}

// UntaggedRepo names an image written to an OCI layout with a tag but
// no name (the layout's ref.name is the tag; containerd's name annotation
// needs a repository).
const UntaggedRepo = "localhost/strata"

// Names are the names to write into the archive r names: oci:DIR:TAG's
// image is UntaggedRepo:TAG, docker-archive:FILE:NAME:TAG's NAME:TAG; nil
// without a tag.
func (r Ref) Names() []string {
	switch {
	case r.Tag == "":
		return nil
	case r.Transport == OCI:
		return []string{UntaggedRepo + ":" + r.Tag}
	case r.Transport == DockerArchive:
		return []string{r.Tag}
	}
	return nil
}

// IsArchive is true for oci: and docker-archive: references.
func (r Ref) IsArchive() bool { return r.Transport == OCI || r.Transport == DockerArchive }

// Registry reads a Named reference as a registry reference.
func (r Ref) Registry() (registry.Ref, error) {
	if r.Transport != Named {
		return registry.Ref{}, fmt.Errorf("%s is a local archive, not a registry reference", r)
	}
	return registry.Parse(r.Name)
}

// Parse reads s in the grammar of the package doc. It refuses what no
// form can be (an empty archive path, a tarball's NAME:TAG that is no
// name, sha256: without hex digits); a Named reference's own checks are
// the store's and the registry's, when it is looked up.
func Parse(s string) (Ref, error) {
	switch {
	case s == "":
		return Ref{}, fmt.Errorf("empty image reference: want %s", Forms)
	case strings.HasPrefix(s, "oci:"):
		dir, tag := splitDirTag(strings.TrimPrefix(s, "oci:"))
		if dir == "" {
			return Ref{}, fmt.Errorf("%q: oci: needs a directory, as in oci:./image or oci:/tmp/image:v1", s)
		}
		if strings.HasSuffix(s, ":") {
			return Ref{}, fmt.Errorf("%q: the tag after the last colon is empty: write oci:%s or oci:%s:TAG", s, dir, dir)
		}
		return Ref{Transport: OCI, Path: dir, Tag: tag}, nil
	case strings.HasPrefix(s, "docker-archive:"):
		// FILE[:NAME:TAG]: the file ends at the first colon, as in
		// containers/image's docker-archive transport, for NAME may
		// have colons of its own (localhost:5000/app:1).
		file, name, _ := strings.Cut(strings.TrimPrefix(s, "docker-archive:"), ":")
		if file == "" {
			return Ref{}, fmt.Errorf("%q: docker-archive: needs a file, as in docker-archive:image.tar or docker-archive:image.tar:app:1", s)
		}
		if strings.HasSuffix(s, ":") {
			return Ref{}, fmt.Errorf("%q: the NAME:TAG after the file is empty: write docker-archive:%s or docker-archive:%s:NAME:TAG", s, file, file)
		}
		if name != "" {
			if _, err := layers.NormalizeName(name); err != nil {
				return Ref{}, fmt.Errorf("%q: %w", s, err)
			}
		}
		return Ref{Transport: DockerArchive, Path: file, Tag: name}, nil
	case strings.Contains(s, "://"):
		return Ref{}, fmt.Errorf("invalid reference %q: image references have no scheme; write %s", s, s[strings.Index(s, "://")+3:])
	case strings.HasPrefix(s, "sha256:"):
		hex := strings.TrimPrefix(s, "sha256:")
		if len(hex) < 4 || len(hex) > 64 || !isHex(hex) {
			return Ref{}, fmt.Errorf("%q is no image id: want sha256: and 4 to 64 lowercase hex digits (strata images lists the ids)", s)
		}
		return Ref{Name: s, ID: true}, nil
	}
	return Ref{Name: s, ID: len(s) == 64 && isHex(s)}, nil
}

// splitDirTag splits "DIR:TAG"; a colon counts only when what follows it
// has no slash (so oci:/a:b/c is the directory /a:b/c).
func splitDirTag(s string) (string, string) {
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Contains(s[i+1:], "/") {
		return s, ""
	}
	return s[:i], s[i+1:]
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
