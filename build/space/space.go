// Package space says why an image is big: which bytes every layer ships
// that the final image never shows (deleted, overwritten or copied up by a
// later layer, or stored twice), the step and Dockerfile line that shipped
// them and the one that made them dead, and the fix. It works on the
// layers' change lists (kept by strata, read from the tars for imported
// images) and reads file contents only to tell a copy-up from a new
// content and to find duplicates, one hash per file at most.
//
// Sizes are content bytes (the bytes of regular files, a hardlinked file
// once) unless a field says otherwise: layer tars are a little bigger
// (headers), and what a pull costs is the compressed layer.
package space

import (
	"fmt"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// Version is the version of the analysis; cached analyses of another
// version are made again.
const Version = 3

// Layer is one layer of the image as the analysis gets it, base first.
type Layer struct {
	DiffID v1.Hash `json:"diff_id"`
	// Step is the plan index of the step that made the layer (-1: a
	// layer of the base image no step of this build made).
	Step        int            `json:"step"`
	Line        int            `json:"line,omitempty"`
	EndLine     int            `json:"end_line,omitempty"`
	Kind        event.StepKind `json:"kind,omitempty"`
	Instruction string         `json:"instruction,omitempty"`
	// Base is set on the base image's layers: the user changes them only
	// by changing FROM.
	Base bool `json:"base"`
	// History says that Line is the number of the image's history entry
	// that made the layer, not a Dockerfile line (an image inspected
	// without its Dockerfile).
	History bool `json:"history,omitempty"`
}

// Kind says why bytes are wasted.
type Kind string

const (
	// Deleted: a later layer deletes the path (a whiteout, or an opaque
	// directory hiding it); its bytes stay in the earlier layer.
	Deleted Kind = "deleted"
	// Overwritten: a later layer writes new content at the path.
	Overwritten Kind = "overwritten"
	// Metadata: a later layer stores the same content again because only
	// the mode, owner or times changed (chmod, chown, touch: a copy-up).
	Metadata Kind = "metadata"
	// Duplicate: the same content (by sha256) is stored at another path
	// of an earlier layer; both are in the final image.
	Duplicate Kind = "duplicate"
)

// Waste is bytes one layer ships that the final image does not need.
type Waste struct {
	Kind Kind   `json:"kind"`
	Path string `json:"path"`
	// Files is how many files the bytes are (a deleted directory's).
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"` // content bytes
	// Layer is the index (0-based, base first) of the layer that ships
	// the bytes; Step and Line are the step that made it (-1/0: base).
	Layer int  `json:"layer"`
	Step  int  `json:"step"`
	Line  int  `json:"line,omitempty"`
	Base  bool `json:"base"`
	// By is the layer whose change made the bytes dead (for Duplicate,
	// the layer that stores the second copy: Layer itself).
	ByLayer int `json:"by_layer"`
	ByStep  int `json:"by_step"`
	ByLine  int `json:"by_line,omitempty"`
	// Other is, for Duplicate, the path of the copy that is kept, in
	// layer OtherLayer.
	Other      string `json:"other,omitempty"`
	OtherLayer int    `json:"other_layer,omitempty"`
	// Message says what happened, with the lines; Fix what avoids it.
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// Finding is something the final image ships that a known rule says is
// not needed to run it (package-manager lists and caches, a toolchain);
// its bytes are not waste by the definition above, they are live.
type Finding struct {
	Rule    string `json:"rule"` // apt-lists, apt-cache, apk-cache, pip-cache, npm-cache, toolchain
	Path    string `json:"path"`
	Files   int    `json:"files"`
	Bytes   int64  `json:"bytes"`
	Layer   int    `json:"layer"`
	Step    int    `json:"step"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// LayerStat is one layer's part of the analysis.
type LayerStat struct {
	Layer
	Index int `json:"index"`
	// TarBytes is the uncompressed layer tar, Compressed the gzip layer a
	// push or export writes (0: not known).
	TarBytes   int64 `json:"tar_bytes"`
	Compressed int64 `json:"compressed_bytes,omitempty"`
	Content    int64 `json:"content_bytes"`
	Files      int   `json:"files"`
	// Unavoidable is the content this layer ships that later layers made
	// dead: once the layer exists, no later step takes them out.
	Unavoidable int64 `json:"wasted_bytes"`
	// Caused is the content of earlier layers this layer's changes made
	// dead (its deletions, overwrites and copy-ups, its duplicates).
	Caused int64 `json:"caused_bytes"`
	// WastedCompressed estimates the compressed bytes of Unavoidable by
	// the layer's own ratio (Compressed / TarBytes).
	WastedCompressed int64 `json:"wasted_compressed_bytes_estimate,omitempty"`
}

// Totals are the sums over a set of layers.
type Totals struct {
	Layers     int     `json:"layers"`
	TarBytes   int64   `json:"tar_bytes"`
	Compressed int64   `json:"compressed_bytes,omitempty"` // 0 when a layer's is unknown
	Content    int64   `json:"content_bytes"`
	Wasted     int64   `json:"wasted_bytes"`
	Efficiency float64 `json:"efficiency"` // 1 − wasted/content (1 when empty)
	// WastedCompressed is the estimate of the wasted bytes in compressed
	// layers (each layer's waste × its compression ratio).
	WastedCompressed int64 `json:"wasted_compressed_bytes_estimate,omitempty"`
}

// Analysis is the wasted-space analysis of one image.
type Analysis struct {
	Version int    `json:"version"`
	ImageID string `json:"image_id,omitempty"`
	// BaseRule says how the base image's layers were told apart.
	BaseRule string `json:"base_rule,omitempty"`
	// LinesAre says what the line numbers are: "dockerfile" (a build's
	// lines) or "history" (the history entries of an inspected image).
	LinesAre string      `json:"lines_are"`
	Image    Totals      `json:"image"`
	User     Totals      `json:"user"`
	BaseImg  Totals      `json:"base"`
	Layers   []LayerStat `json:"layers"`
	// Wastes are ranked, the most bytes first.
	Wastes   []Waste   `json:"wastes"`
	Findings []Finding `json:"findings,omitempty"`
	// Errors are what could not be read (a layer's files, a file to
	// hash): the numbers leave those parts out.
	Errors []string `json:"errors,omitempty"`
}

// Source gives the analysis a layer's change list, its sizes and the
// digest of one of its regular files.
type Source interface {
	Changes(i int) ([]layers.Change, error)
	// Digest is the content digest of the regular file p of layer i.
	Digest(i int, p string) (string, error)
}

// blob is the content of one regular file of one layer (hardlinks to it
// in the layer share it).
type blob struct {
	layer  int
	path   string
	size   int64
	refs   int // live names
	digest string
	dErr   bool
}

// entry is a live path of the merged image.
type entry struct {
	layer int
	dir   bool
	b     *blob // regular files and hardlinks; nil otherwise
}

type analyzer struct {
	src  Source
	in   []Layer
	live map[string]*entry
	// kids lists the paths put under each directory, append only: a
	// deleted or replaced one is skipped by kill (not live any more).
	kids map[string][]string
	// blobs are every regular file's content, in layer order.
	blobs  []*blob
	out    *Analysis
	wastes map[wasteKey]*Waste
	order  []wasteKey
}

type wasteKey struct {
	kind    Kind
	path    string
	layer   int
	byLayer int
}

// Analyze computes the analysis of the layers (base first). It reads each
// change list once and hashes only files whose kind of waste depends on
// their content: a path rewritten with the same size, and files of the
// final image whose size another layer's file also has.
func Analyze(in []Layer, src Source) *Analysis {
	a := &analyzer{src: src, in: in, out: &Analysis{Version: Version, LinesAre: "dockerfile"}, wastes: map[wasteKey]*Waste{}}
	for _, l := range in {
		if l.History {
			a.out.LinesAre = "history"
		}
	}
	for i, l := range in {
		a.out.Layers = append(a.out.Layers, LayerStat{Layer: l, Index: i})
	}
	all := make([][]layers.Change, len(in))
	n := 0
	for i := range in {
		cs, err := src.Changes(i)
		if err != nil {
			a.out.Errors = append(a.out.Errors, fmt.Sprintf("layer %d (%s): its change list: %v", i+1, in[i].DiffID, err))
		}
		all[i] = cs
		n += len(cs)
	}
	a.live, a.kids = make(map[string]*entry, n), make(map[string][]string, n/8)
	for i, cs := range all {
		a.layer(i, cs)
		all[i] = nil
	}
	a.duplicates()
	a.findings()
	a.finish()
	return a.out
}

func (a *analyzer) layer(i int, cs []layers.Change) {
	st := &a.out.Layers[i]
	blobs := map[string]*blob{} // this layer's regular files by path
	for _, c := range cs {
		p := c.Path
		if !clean(p) {
			p = path.Clean("/" + p)
		}
		if p == "/" {
			if c.Opaque {
				a.killChildren("/", i, Deleted, "/")
			}
			continue
		}
		if c.Kind == layers.Deleted {
			a.kill(p, i, Deleted, p)
			continue
		}
		old := a.live[p]
		switch c.Type {
		case layers.TypeDir:
			if old != nil && !old.dir {
				a.kill(p, i, Overwritten, p)
				old = nil
			}
			if c.Opaque && old != nil {
				a.killChildren(p, i, Deleted, p)
			}
			if old == nil {
				a.put(p, &entry{layer: i, dir: true})
			} else {
				old.layer = i
			}
			continue
		case layers.TypeRegular:
			b := &blob{layer: i, path: p, size: c.Size}
			blobs[p] = b
			a.blobs = append(a.blobs, b)
			st.Content += c.Size
			st.Files++
			if old != nil {
				a.replaced(p, old, b, i)
			}
			a.put(p, &entry{layer: i, b: b})
		case layers.TypeHardlink:
			b := blobs[path.Clean("/"+c.Linkname)]
			if old != nil {
				a.replaced(p, old, b, i)
			}
			a.put(p, &entry{layer: i, b: b})
		default:
			if old != nil {
				a.replaced(p, old, nil, i)
			}
			a.put(p, &entry{layer: i})
		}
	}
}

// replaced kills the old entry at p that layer i writes again: a copy-up
// when the content is the same, else an overwrite.
func (a *analyzer) replaced(p string, old *entry, nb *blob, i int) {
	if old.dir {
		a.kill(p, i, Overwritten, p)
		return
	}
	kind := Overwritten
	if ob := old.b; ob != nil && nb != nil && ob.size == nb.size && ob.refs == 1 && ob.size > 0 {
		if d1, d2 := a.digest(ob), a.digest(nb); d1 != "" && d1 == d2 {
			kind = Metadata
		}
	}
	a.kill(p, i, kind, p)
}

func (a *analyzer) digest(b *blob) string {
	if b.digest == "" && !b.dErr {
		d, err := a.src.Digest(b.layer, b.path)
		if err != nil {
			b.dErr = true
			a.out.Errors = append(a.out.Errors, fmt.Sprintf("layer %d: hash %s: %v", b.layer+1, b.path, err))
			return ""
		}
		b.digest = d
	}
	return b.digest
}

func (a *analyzer) put(p string, e *entry) {
	if e.b != nil {
		e.b.refs++
	}
	if _, ok := a.live[p]; !ok {
		dir := path.Dir(p)
		a.kids[dir] = append(a.kids[dir], p)
	}
	a.live[p] = e
}

// kill removes p (and what is under it) from the live image; the bytes
// that no live name holds any more are waste of the given kind, counted
// under root (the path the layer deleted or replaced).
func (a *analyzer) kill(p string, by int, kind Kind, root string) {
	e, ok := a.live[p]
	if !ok {
		return
	}
	if e.dir {
		a.killChildren(p, by, kind, root)
		delete(a.kids, p)
	}
	delete(a.live, p)
	if e.b == nil {
		return
	}
	e.b.refs--
	if e.b.refs > 0 || e.b.size == 0 || e.b.layer == by {
		return // still shipped under another name, empty, or never shipped twice
	}
	a.addWaste(kind, root, e.b.layer, by, e.b.size)
}

func (a *analyzer) killChildren(p string, by int, kind Kind, root string) {
	kids := a.kids[p]
	delete(a.kids, p)
	for _, c := range kids {
		a.kill(c, by, kind, root)
	}
}

func (a *analyzer) addWaste(kind Kind, p string, layer, by int, n int64) {
	k := wasteKey{kind, p, layer, by}
	w := a.wastes[k]
	if w == nil {
		w = &Waste{Kind: kind, Path: p, Layer: layer, ByLayer: by}
		a.wastes[k] = w
		a.order = append(a.order, k)
	}
	w.Files++
	w.Bytes += n
}

// MinDuplicate is the smallest file looked for as a duplicate: hashing
// every small file would cost more time than their copies waste.
const MinDuplicate = 16 << 10

// duplicates finds the final image's files (of MinDuplicate bytes or
// more) whose content an earlier layer already stores at another path:
// the later copies are waste.
func (a *analyzer) duplicates() {
	bySize := map[int64][]*blob{}
	for _, b := range a.blobs {
		if b.refs > 0 && b.size >= MinDuplicate {
			bySize[b.size] = append(bySize[b.size], b)
		}
	}
	sizes := make([]int64, 0, len(bySize))
	for s, bs := range bySize {
		if len(bs) > 1 && !sameLayer(bs) {
			sizes = append(sizes, s)
		}
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] > sizes[j] })
	for _, s := range sizes {
		bs := bySize[s]
		sort.Slice(bs, func(i, j int) bool {
			if bs[i].layer != bs[j].layer {
				return bs[i].layer < bs[j].layer
			}
			return bs[i].path < bs[j].path
		})
		first := map[string]*blob{}
		for _, b := range bs {
			d := a.digest(b)
			if d == "" {
				continue
			}
			f, ok := first[d]
			if !ok {
				first[d] = b
				continue
			}
			if f.layer == b.layer {
				continue // copies within one layer: not this analysis' business
			}
			k := wasteKey{Duplicate, b.path, b.layer, b.layer}
			a.wastes[k] = &Waste{Kind: Duplicate, Path: b.path, Files: 1, Bytes: b.size, Layer: b.layer, ByLayer: b.layer,
				Other: f.path, OtherLayer: f.layer}
			a.order = append(a.order, k)
		}
	}
}

func sameLayer(bs []*blob) bool {
	for _, b := range bs[1:] {
		if b.layer != bs[0].layer {
			return false
		}
	}
	return true
}

// finish fills the steps, lines, messages and sums, and ranks the wastes.
func (a *analyzer) finish() {
	o := a.out
	for _, k := range a.order {
		w := a.wastes[k]
		l, by := a.in[w.Layer], a.in[w.ByLayer]
		w.Step, w.Line, w.Base = l.Step, l.Line, l.Base
		w.ByStep, w.ByLine = by.Step, by.Line
		w.Message, w.Fix = explain(w, a.in)
		o.Wastes = append(o.Wastes, *w)
		o.Layers[w.Layer].Unavoidable += w.Bytes
		o.Layers[w.ByLayer].Caused += w.Bytes
	}
	sort.SliceStable(o.Wastes, func(i, j int) bool {
		if o.Wastes[i].Bytes != o.Wastes[j].Bytes {
			return o.Wastes[i].Bytes > o.Wastes[j].Bytes
		}
		x, y := o.Wastes[i], o.Wastes[j]
		if x.Layer != y.Layer {
			return x.Layer < y.Layer
		}
		if x.Path != y.Path {
			return x.Path < y.Path
		}
		if x.Kind != y.Kind {
			return x.Kind < y.Kind
		}
		return x.ByLayer < y.ByLayer
	})
	o.Sum()
}

// Sum (re)computes the totals from the layers: after the layers' sizes
// are set.
func (o *Analysis) Sum() {
	o.Image, o.User, o.BaseImg = Totals{}, Totals{}, Totals{}
	known := true
	for i := range o.Layers {
		l := &o.Layers[i]
		l.WastedCompressed = 0
		if l.Compressed > 0 && l.TarBytes > 0 {
			l.WastedCompressed = int64(float64(l.Unavoidable) * float64(l.Compressed) / float64(l.TarBytes))
		}
		if l.Compressed == 0 {
			known = false
		}
		for _, t := range []*Totals{&o.Image, o.part(l.Base)} {
			t.Layers++
			t.TarBytes += l.TarBytes
			t.Compressed += l.Compressed
			t.Content += l.Content
			t.Wasted += l.Unavoidable
			t.WastedCompressed += l.WastedCompressed
		}
	}
	for _, t := range []*Totals{&o.Image, &o.User, &o.BaseImg} {
		t.Efficiency = 1
		if t.Content > 0 {
			t.Efficiency = 1 - float64(t.Wasted)/float64(t.Content)
		}
		if !known {
			t.Compressed, t.WastedCompressed = 0, 0
		}
	}
}

func (o *Analysis) part(base bool) *Totals {
	if base {
		return &o.BaseImg
	}
	return &o.User
}

// LayerOf is the analysis' layer index of a diffID, or -1.
func (o *Analysis) LayerOf(d string) int {
	for i, l := range o.Layers {
		if l.DiffID.String() == d {
			return i
		}
	}
	return -1
}

// PathWaste is what the analysis says of one path of one layer: the bytes
// this layer ships for it that are dead later, and the bytes of earlier
// layers its change made dead (a deletion's or an overwrite's size).
type PathWaste struct {
	Dead   int64 // shipped here, dead in the final image
	Killed int64 // of earlier layers, made dead by this layer's change
	Kind   Kind
}

// ByPath indexes the wastes of one layer by path (and the directories
// they are under are not listed: the Files tab marks the paths
// themselves).
func (o *Analysis) ByPath(layer int) map[string]PathWaste {
	m := map[string]PathWaste{}
	for _, w := range o.Wastes {
		if w.Layer == layer {
			p := m[w.Path]
			p.Dead += w.Bytes
			p.Kind = w.Kind
			m[w.Path] = p
		}
		if w.ByLayer == layer && w.Kind != Duplicate {
			p := m[w.Path]
			p.Killed += w.Bytes
			if p.Kind == "" {
				p.Kind = w.Kind
			}
			m[w.Path] = p
		}
	}
	return m
}

// clean says whether p is already an absolute clean path (change lists'
// paths are), so most need no path.Clean.
func clean(p string) bool {
	if p == "" || p[0] != '/' || (len(p) > 1 && p[len(p)-1] == '/') {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' && (p[i-1] == '/' || i+1 < len(p) && p[i+1] == '.') {
			return false
		}
	}
	return !strings.HasPrefix(p, "/.") || len(p) > 2 && p[2] != '.' && p[2] != '/'
}
