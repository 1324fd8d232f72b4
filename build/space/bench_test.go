package space

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/layers"
)

// memSource serves change lists decoded from JSON (as the store keeps
// them) and digests from a table (as after the first hash).
type memSource struct {
	raw     [][]byte
	digests map[dkey]string
}

type dkey struct {
	layer int
	path  string
}

func (s *memSource) Changes(i int) ([]layers.Change, error) {
	var c []layers.Change
	err := json.NewDecoder(bytes.NewReader(s.raw[i])).Decode(&c)
	return c, err
}

func (s *memSource) Digest(i int, p string) (string, error) {
	if d, ok := s.digests[dkey{i, p}]; ok {
		return d, nil
	}
	return "", fmt.Errorf("no digest of %s in layer %d", p, i+1)
}

// synthetic is an image of n layers with per files each: every layer
// adds its own files (in directories of 100), overwrites 2% of the
// previous layer's files, changes the mode of 1% (same content), deletes
// 2% and one whole directory of them.
func synthetic(n, per int) ([]Layer, *memSource) {
	src := &memSource{digests: map[dkey]string{}}
	var in []Layer
	size := func(l, f int) int64 { return int64(1000 + (l*per+f)%4093) }
	name := func(l, f int) string { return fmt.Sprintf("/l%d/d%d/f%d", l, f/100, f) }
	for l := range n {
		var cs []layers.Change
		cs = append(cs, layers.Change{Path: fmt.Sprintf("/l%d", l), Kind: layers.Added, Type: layers.TypeDir})
		for f := range per {
			if f%100 == 0 {
				cs = append(cs, layers.Change{Path: fmt.Sprintf("/l%d/d%d", l, f/100), Kind: layers.Added, Type: layers.TypeDir})
			}
			p := name(l, f)
			cs = append(cs, layers.Change{Path: p, Kind: layers.Added, Type: layers.TypeRegular, Size: size(l, f), Mode: 0o644})
			src.digests[dkey{l, p}] = fmt.Sprintf("sha256:%d-%d", l, f)
		}
		if l > 0 {
			for f := 0; f < per-100; f += 50 { // overwrite (not in the deleted directory)
				p := name(l-1, f)
				cs = append(cs, layers.Change{Path: p, Kind: layers.Modified, Type: layers.TypeRegular, Size: size(l-1, f), Mode: 0o644})
				src.digests[dkey{l, p}] = fmt.Sprintf("sha256:new-%d-%d", l, f)
			}
			for f := 25; f < per-100; f += 100 { // chmod: the same content again
				p := name(l-1, f)
				cs = append(cs, layers.Change{Path: p, Kind: layers.Modified, Type: layers.TypeRegular, Size: size(l-1, f), Mode: 0o755})
				src.digests[dkey{l, p}] = fmt.Sprintf("sha256:%d-%d", l-1, f)
			}
			for f := 10; f < per-100; f += 50 { // delete
				cs = append(cs, layers.Change{Path: name(l-1, f), Kind: layers.Deleted, Type: layers.TypeRegular})
			}
			cs = append(cs, layers.Change{Path: fmt.Sprintf("/l%d/d%d", l-1, per/100-1), Kind: layers.Deleted, Type: layers.TypeDir})
		}
		b, _ := json.Marshal(cs)
		src.raw = append(src.raw, b)
		in = append(in, Layer{DiffID: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", l)}, Step: l, Line: l + 1, Kind: "RUN"})
	}
	return in, src
}

// TestAnalysisCost: the analysis of 100,000 files in 20 layers against
// reading their change lists once (decoding the JSON the store keeps),
// digests already known (Run keeps the analysis, so the hashes are done
// once per image). It prints both times and their ratio, and fails above
// 3× (the aim is 1.5×; a shared CI machine is noisy).
func TestAnalysisCost(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	in, src := synthetic(20, 5000)
	best := func(f func()) time.Duration {
		b := time.Duration(1 << 62)
		for range 5 {
			s := time.Now()
			f()
			b = min(b, time.Since(s))
		}
		return b
	}
	read := best(func() {
		for i := range in {
			if _, err := src.Changes(i); err != nil {
				t.Fatal(err)
			}
		}
	})
	var a *Analysis
	analyse := best(func() { a = Analyze(in, src) })
	ratio := float64(analyse) / float64(read)
	fmt.Fprintf(os.Stderr, "100,000 files in 20 layers: read change lists %v, analysis (reading them included) %v, ratio %.2f; %d wastes, %d bytes wasted\n",
		read, analyse, ratio, len(a.Wastes), a.Image.Wasted)
	if len(a.Errors) > 0 {
		t.Fatalf("errors: %v", a.Errors[:min(3, len(a.Errors))])
	}
	// 19 layers each: 98 overwrites, 49 copy-ups, 98 deletions and one
	// deleted directory.
	var kinds = map[Kind]int{}
	for _, w := range a.Wastes {
		kinds[w.Kind]++
	}
	if kinds[Overwritten] != 19*98 || kinds[Metadata] != 19*49 || kinds[Deleted] != 19*(98+1) {
		t.Errorf("wastes by kind %v", kinds)
	}
	if ratio > 3 {
		t.Errorf("analysis %v is %.2f× reading the change lists (%v); the aim is 1.5×", analyse, ratio, read)
	}
}

// BenchmarkAnalyze is the analysis alone (change lists decoded as part of
// it, as in Run).
func BenchmarkAnalyze(b *testing.B) {
	in, src := synthetic(20, 5000)
	for b.Loop() {
		Analyze(in, src)
	}
}
