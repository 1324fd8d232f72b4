package session

import (
	"bytes"
	"encoding/json"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestIndexHasNoArtifactType: a multi-platform image's index lists its
// images as BuildKit and docker do, without the artifactType that
// go-containerregistry adds to every descriptor (it marks an artifact),
// and stays a valid index: its digest is its bytes', its images are there.
func TestIndexHasNoArtifactType(t *testing.T) {
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	raw := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if mf, _ := raw.IndexManifest(); mf.Manifests[0].ArtifactType == "" {
		t.Log("go-containerregistry no longer adds artifactType: withoutArtifactTypes is not needed")
	}
	idx, err := withoutArtifactTypes(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("artifactType")) {
		t.Errorf("index has artifactType: %s", b)
	}
	var mf v1.IndexManifest
	if err := json.Unmarshal(b, &mf); err != nil {
		t.Fatal(err)
	}
	if len(mf.Manifests) != 2 || mf.Manifests[1].Platform == nil || mf.Manifests[1].Platform.Architecture != "arm64" {
		t.Errorf("manifests: %+v", mf.Manifests)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("not a valid index: %v", err)
	}
}
