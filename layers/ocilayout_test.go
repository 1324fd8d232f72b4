package layers

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestReadOCILayoutPlatform: an oci: layout holding a multi-platform
// index gives the image of the platform asked; an arm64 entry written
// without a variant serves an arm64 (= arm64/v8) host, as containerd and
// a registry pull have it; a platform the index lacks is refused, naming
// what it has.
func TestReadOCILayoutPlatform(t *testing.T) {
	amd, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	arm, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	want := map[string]v1.Image{"linux/arm64/v8": arm, "linux/arm64": arm, "linux/amd64": amd}
	for plat, img := range want {
		parts := strings.Split(plat, "/")
		p := v1.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			p.Variant = parts[2]
		}
		got, err := ReadOCILayout(dir, "", &p)
		if err != nil {
			t.Errorf("ReadOCILayout for %s: %v", plat, err)
			continue
		}
		gd, _ := got.Digest()
		wd, _ := img.Digest()
		if gd != wd {
			t.Errorf("ReadOCILayout for %s gave %s, want %s", plat, gd, wd)
		}
	}
	_, err = ReadOCILayout(dir, "", &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})
	if err == nil || !strings.Contains(err.Error(), "no image for platform linux/arm/v7 (index has: linux/amd64, linux/arm64)") {
		t.Errorf("a platform the index lacks: %v", err)
	}
}
