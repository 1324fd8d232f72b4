package cache

import (
	"context"
	"fmt"
	"io"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-build/strata/registry"
)

// EntryFor is the cache entry of key: the local one, else an imported one.
func (c *Shared) EntryFor(l Local, key string) *Entry {
	if ent := l.Entry(key); ent != nil {
		return ent
	}
	return c.Entry(key)
}

// NewDoc is a --cache-to document of a build's stages (their records,
// the executor's to choose: mode min, the target stage's; max, every
// stage's): the entries of their finished steps (EntryFor), the records
// and, with layers, each layer the entries name as a blob to write (the
// store's, compressed, or where an import left it).
func (c *Shared) NewDoc(l Local, mode string, stages []StageRecord, withLayers bool) (*Doc, []v1.Layer, error) {
	doc := &Doc{Version: 1, Mode: mode}
	seen := map[string]bool{}
	var diffIDs []v1.Hash
	for _, r := range stages {
		for _, rs := range r.Steps {
			if seen[rs.Key] || rs.Unfinished {
				continue
			}
			ent := c.EntryFor(l, rs.Key)
			if ent == nil {
				continue
			}
			seen[rs.Key] = true
			doc.Entries = append(doc.Entries, *ent)
			for _, d := range ent.LayerIDs() {
				if !slices.Contains(diffIDs, d) {
					diffIDs = append(diffIDs, d)
				}
			}
		}
		doc.Records = append(doc.Records, r)
		for _, rs := range r.Steps {
			for _, sm := range []*Sums{rs.Files, rs.FromFiles} {
				if sm == nil || doc.Sums[sm.Digest] != nil {
					continue
				}
				f, err := sm.inline()
				if err != nil {
					continue // the record then explains less, on the other machine
				}
				if doc.Sums == nil {
					doc.Sums = map[string]FileSums{}
				}
				doc.Sums[sm.Digest] = f
			}
		}
	}
	if !withLayers {
		return doc, nil, nil
	}
	var ls []v1.Layer
	s := l.Store
	for _, d := range diffIDs {
		if rl, ok := s.Remote(d); ok {
			doc.Layers = append(doc.Layers, Layer{DiffID: d, Digest: rl.Digest, Size: rl.CompressedSize, TarSize: rl.Size, MediaType: rl.MediaType})
			ls = append(ls, rl.Blob)
			continue
		}
		meta, err := s.CompressLayer(d)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %s: %w", d, err)
		}
		desc := v1.Descriptor{Digest: meta.Compressed, Size: meta.CompressedSize, MediaType: types.OCILayer}
		doc.Layers = append(doc.Layers, Layer{DiffID: d, Digest: meta.Compressed, Size: meta.CompressedSize, TarSize: meta.Size, MediaType: types.OCILayer})
		ls = append(ls, registry.NewBlobLayer(desc, func() (io.ReadCloser, error) { return s.OpenBlobVerified(meta.Compressed) }))
	}
	return doc, ls, nil
}

// Export writes every --cache-to but type=inline (written with the push:
// Inline), each a document of the stages records gives for its mode.
func (c *Shared) Export(ctx context.Context, l Local, records func(mode string) []StageRecord) error {
	for _, spec := range c.To {
		if spec.Type == "inline" {
			continue // written with the push (Inline)
		}
		doc, ls, err := c.NewDoc(l, spec.Mode, records(spec.Mode), true)
		if err != nil {
			return fmt.Errorf("--cache-to %s: %w", spec.Name(), err)
		}
		if err := Write(ctx, spec, doc, ls, c.Insecure); err != nil {
			return fmt.Errorf("--cache-to %s: %w", spec.Name(), err)
		}
	}
	return nil
}

// Inline is the annotation a push carries for --cache-to type=inline: a
// document of the stages' records (mode min), without layers, fitted
// (FitInline: warn says what was left out).
func (c *Shared) Inline(l Local, stages []StageRecord) (annotations map[string]string, warn string, err error) {
	doc, _, err := c.NewDoc(l, "min", stages, false)
	if err != nil {
		return nil, "", err
	}
	b, warn, err := FitInline(doc, MaxInline)
	if err != nil {
		return nil, "", err
	}
	return map[string]string{InlineAnnotation: string(b)}, warn, nil
}
