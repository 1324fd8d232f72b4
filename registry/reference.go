// Package registry pulls images from and pushes them to container
// registries (the distribution API) through go-containerregistry, into and
// out of the local layers.Store.
//
// Names follow docker: "alpine" is docker.io/library/alpine:latest, plain
// HTTP is spoken only to loopback registries and to those named with
// --insecure-registry, credentials come from ~/.docker/config.json and its
// credential helpers.
package registry

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DockerHub is the registry short names live in, as docker writes it.
const DockerHub = "docker.io"

// Ref is a parsed registry reference.
type Ref struct {
	ref name.Reference
	// Name is the docker-normalised form: docker.io/library/alpine:3.20,
	// 127.0.0.1:5000/app@sha256:… . The local store records pulls under it.
	Name string
	// Registry is the registry host[:port] as docker writes it
	// ("docker.io" for Docker Hub).
	Registry string
	// Repository is the path inside the registry (library/alpine).
	Repository string
	// Tag is "" for a digest reference.
	Tag string
	// Digest is "" for a tag reference.
	Digest string
}

func (r Ref) String() string { return r.Name }

// Repo is registry/repository, without tag or digest.
func (r Ref) Repo() string { return r.Registry + "/" + r.Repository }

// host is where requests go (index.docker.io for Docker Hub).
func (r Ref) host() string { return r.ref.Context().RegistryStr() }

var imageID = regexp.MustCompile(`^(sha256:)?[0-9a-f]{64}$`)

// Parse reads an image reference as docker does: a name without a
// registry is on Docker Hub, a one-element Hub name is in library/, no tag
// means :latest. oci: and docker-archive: references are not registry
// references.
func Parse(s string) (Ref, error) {
	switch {
	case s == "":
		return Ref{}, fmt.Errorf("empty image reference")
	case strings.HasPrefix(s, "oci:"), strings.HasPrefix(s, "docker-archive:"):
		return Ref{}, fmt.Errorf("%s is a local archive, not a registry reference", s)
	case strings.Contains(s, "://"):
		return Ref{}, fmt.Errorf("invalid reference %q: image references have no scheme; write %s", s, s[strings.Index(s, "://")+3:])
	case imageID.MatchString(s):
		return Ref{}, fmt.Errorf("%s is an image id, not a registry reference (ids name images in the local store only)", s)
	}
	path := s
	if i := strings.Index(path, "@"); i >= 0 {
		path = path[:i]
	}
	if i := strings.LastIndex(path, ":"); i > strings.LastIndex(path, "/") {
		path = path[:i]
	}
	repoPart := path
	if first, rest, ok := strings.Cut(path, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		repoPart = rest
	}
	if repoPart != strings.ToLower(repoPart) {
		return Ref{}, fmt.Errorf("invalid reference %q: repository name %q must be lowercase", s, repoPart)
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return Ref{}, fmt.Errorf("invalid reference %q: want [REGISTRY/]REPOSITORY[:TAG|@sha256:DIGEST], e.g. alpine:3.20 or 127.0.0.1:5000/app:1", s)
	}
	r := Ref{ref: ref, Registry: ref.Context().RegistryStr(), Repository: ref.Context().RepositoryStr()}
	if r.Registry == name.DefaultRegistry {
		r.Registry = DockerHub
	}
	switch v := ref.(type) {
	case name.Tag:
		r.Tag = v.TagStr()
		r.Name = r.Repo() + ":" + r.Tag
	case name.Digest:
		r.Digest = v.DigestStr()
		r.Name = r.Repo() + "@" + r.Digest
	}
	return r, nil
}
