package layers

import (
	"bytes"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestImageAdapter: Store.Image is a valid ggcr image (validate.Image
// reads every blob and checks every digest, size and diff ID) whose
// config is the stored blob byte for byte, fields strata does not know
// and their order kept, so the image id is the same wherever it is
// written; with layers and without.
func TestImageAdapter(t *testing.T) {
	s := openStore(t)
	uid, gid := os.Getuid(), os.Getgid()
	var ents []tent
	for _, e := range []tent{dirent("app/", 0o755), file("app/a.txt", strings.Repeat("adapter ", 300), 0o644)} {
		e.hdr.Uid, e.hdr.Gid = uid, gid
		ents = append(ents, e)
	}
	meta, err := s.ImportLayer(bytes.NewReader(tarBytes(t, ents...)), v1.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{
		"layer": `{"os":"linux","architecture":"amd64","container_config":{"Hostname":"x"},` +
			`"rootfs":{"type":"layers","diff_ids":["` + meta.DiffID.String() + `"]},"config":{"Cmd":["/app/a.txt"]}}`,
		"no layers": `{"architecture":"arm64","os":"linux","docker_version":"old","rootfs":{"type":"layers","diff_ids":[]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			id, err := s.PutBytes([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			img, err := s.Image(id)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatalf("validate.Image: %v", err)
			}
			got, err := img.RawConfigFile()
			if err != nil || string(got) != raw {
				t.Errorf("config = %s, %v; want the stored blob byte for byte:\n%s", got, err, raw)
			}
			if cn, _ := img.ConfigName(); cn != id {
				t.Errorf("config digest %s, want the image id %s", cn, id)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("media types %s / %s, want OCI", m.MediaType, m.Config.MediaType)
			}
			cfg, _ := img.ConfigFile()
			if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
				t.Fatalf("%d manifest layers for %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
			}
			for i, l := range m.Layers {
				lm, err := s.Layer(cfg.RootFS.DiffIDs[i])
				if err != nil {
					t.Fatal(err)
				}
				if l.MediaType != types.OCILayer || l.Digest != lm.Compressed || l.Size != lm.CompressedSize || !s.HasBlob(l.Digest) {
					t.Errorf("layer %d: %+v; want the stored gzip blob %s (%d bytes)", i, l, lm.Compressed, lm.CompressedSize)
				}
			}
		})
	}
}
