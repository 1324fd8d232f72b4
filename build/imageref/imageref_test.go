package imageref

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	cases := []struct {
		in   string
		want Ref
		err  string
	}{
		{"oci:out", Ref{Transport: OCI, Path: "out"}, ""},
		{"oci:/tmp/out:v1", Ref{Transport: OCI, Path: "/tmp/out", Tag: "v1"}, ""},
		{"oci:/a:b/c", Ref{Transport: OCI, Path: "/a:b/c"}, ""}, // a colon in the path
		{"oci:./x", Ref{Transport: OCI, Path: "./x"}, ""},
		{"docker-archive:img.tar", Ref{Transport: DockerArchive, Path: "img.tar"}, ""},
		{"docker-archive:img.tar:app:1", Ref{Transport: DockerArchive, Path: "img.tar", Tag: "app:1"}, ""},
		{"docker-archive:/d/img.tar:app", Ref{Transport: DockerArchive, Path: "/d/img.tar", Tag: "app"}, ""},
		{"docker-archive:img.tar:localhost:5000/app:1", Ref{Transport: DockerArchive, Path: "img.tar", Tag: "localhost:5000/app:1"}, ""},
		{"alpine", Ref{Name: "alpine"}, ""},
		{"alpine:3.20", Ref{Name: "alpine:3.20"}, ""},
		{"127.0.0.1:5000/app@sha256:" + hex64, Ref{Name: "127.0.0.1:5000/app@sha256:" + hex64}, ""},
		{"docker:24-dind", Ref{Name: "docker:24-dind"}, ""}, // docker: is a Hub image here, not an archive
		{"NoSuchImage:1", Ref{Name: "NoSuchImage:1"}, ""},   // the store and registry judge names
		{hex64, Ref{Name: hex64, ID: true}, ""},
		{"sha256:" + hex64, Ref{Name: "sha256:" + hex64, ID: true}, ""},
		{"sha256:abcd", Ref{Name: "sha256:abcd", ID: true}, ""},
		{"abcdef012345", Ref{Name: "abcdef012345"}, ""}, // a short id or a name: the store decides
		{"", Ref{}, "empty image reference: want a local store name"},
		{"oci:", Ref{}, "oci: needs a directory"},
		{"oci::v1", Ref{}, "oci: needs a directory"},
		{"oci:out:", Ref{}, "the tag after the last colon is empty"},
		{"docker-archive:", Ref{}, "docker-archive: needs a file"},
		{"docker-archive::app:1", Ref{}, "docker-archive: needs a file"},
		{"docker-archive:img.tar:", Ref{}, "the NAME:TAG after the file is empty"},
		{"docker-archive:img.tar:Bad Name", Ref{}, `invalid image name "Bad Name"`},
		{"docker-archive:img.tar:App:1", Ref{}, "lowercase"},
		{"https://ghcr.io/o/r", Ref{}, "no scheme; write ghcr.io/o/r"},
		{"sha256:xyz", Ref{}, "is no image id: want sha256: and 4 to 64"},
		{"sha256:abc", Ref{}, "is no image id"},
		{"sha256:" + hex64 + "0", Ref{}, "is no image id"},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Parse(%q) = %+v, %v; want the error %q", c.in, got, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		case c.err == "":
			if back, err := Parse(got.String()); err != nil || back != got || got.String() != c.in {
				t.Errorf("Parse(%q).String() = %q reads back as %+v, %v", c.in, got.String(), back, err)
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	r, _ := Parse("alpine:3.20")
	if reg, err := r.Registry(); err != nil || reg.Name != "docker.io/library/alpine:3.20" {
		t.Errorf("Registry() = %+v, %v", reg, err)
	}
	a, _ := Parse("oci:out")
	if _, err := a.Registry(); err == nil || !strings.Contains(err.Error(), "oci:out is a local archive") {
		t.Errorf("an oci: reference as a registry one: %v", err)
	}
	id, _ := Parse(strings.Repeat("0", 64))
	if _, err := id.Registry(); err == nil || !strings.Contains(err.Error(), "image id") {
		t.Errorf("an id as a registry reference: %v", err)
	}
}
