package layers

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
)

// WriteOCIIndex writes a multi-platform image into an OCI layout dir
// (created or appended): its images' blobs and manifests, the index blob,
// and in index.json a descriptor of the index per ref name (as BuildKit's
// oci exporter: ref.name the tag, io.containerd.image.name the full name),
// or one unnamed. umoci and skopeo read an image of it with
// oci:DIR:TAG and their architecture choice.
func WriteOCIIndex(dir string, idx v1.ImageIndex, refs []string) error {
	return writeLayoutRefs(dir, refs,
		func(p layout.Path) error { return p.AppendIndex(idx) },
		func(p layout.Path, m match.Matcher, o layout.Option) error { return p.ReplaceIndex(idx, m, o) })
}

// writeLayoutRefs opens (or creates) the OCI layout dir and adds one
// descriptor per ref name, replacing any of that name (as BuildKit's oci
// exporter: ref.name the tag, io.containerd.image.name the full name), or
// one unnamed: appendFn adds it unnamed, replaceFn by name. Images and
// indexes differ only in those two.
func writeLayoutRefs(dir string, refs []string, appendFn func(layout.Path) error, replaceFn func(layout.Path, match.Matcher, layout.Option) error) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		p, err = layout.Write(dir, empty.Index)
		if err != nil {
			return fmt.Errorf("oci layout %s: %w", dir, err)
		}
	}
	if len(refs) == 0 {
		refs = []string{""}
	}
	for _, r := range refs {
		if r == "" {
			if err := appendFn(p); err != nil {
				return fmt.Errorf("oci layout %s: %w", dir, err)
			}
			continue
		}
		full, short := r, r
		if t, err := name.NewTag(r); err == nil {
			full, short = t.Name(), t.TagStr()
		}
		ann := map[string]string{
			"org.opencontainers.image.ref.name": short,
			"io.containerd.image.name":          full,
		}
		if err := replaceFn(p, refMatcher(short), layout.WithAnnotations(ann)); err != nil {
			return fmt.Errorf("oci layout %s: %w", dir, err)
		}
	}
	return nil
}
