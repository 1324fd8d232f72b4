package space_test

import (
	"archive/tar"
	"errors"
	"io"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/space"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/internal/testutil/rootfs"
	"github.com/strata-build/strata/layers"
)

// diveNumbers is dive's measure of an image, computed as dive's
// filetree.Efficiency and image analysis define it (wagoodman/dive,
// dive/filetree/efficiency.go and the docker image's Analyze): every leaf
// path of every layer's tar adds its size to the path's cumulative size
// (a whiteout of a file adds 0, of a directory the size of what it hid);
// a path seen in more than one layer is an inefficiency and all its
// cumulative size is wasted, the kept copy included; efficiency is
// Σ min size / Σ cumulative size over all paths; the user's bytes are
// every layer's tar entry sizes but the first layer's.
type diveNumbers struct {
	efficiency float64
	wasted     int64
	userSize   int64
	userPct    float64
}

type diveEntry struct {
	size     int64
	whiteout bool
	dir      bool
}

func diveOf(t *testing.T, store *layers.Store, a *space.Analysis) diveNumbers {
	t.Helper()
	var trees []map[string]diveEntry
	var sizes []int64
	for _, l := range a.Layers {
		f, err := store.OpenBlob(l.DiffID)
		if err != nil {
			t.Fatal(err)
		}
		tree := map[string]diveEntry{}
		var total int64
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			total += h.Size
			p := "/" + strings.Trim(path.Clean("/"+h.Name), "/")
			dir, base := path.Split(p)
			switch {
			case base == ".wh..wh..opq":
				continue // dive lists it as a file of size 0 under the directory: no size
			case strings.HasPrefix(base, ".wh."):
				tree[path.Join(dir, strings.TrimPrefix(base, ".wh."))] = diveEntry{whiteout: true}
			default:
				tree[p] = diveEntry{size: h.Size, dir: h.Typeflag == tar.TypeDir}
			}
		}
		f.Close()
		trees = append(trees, tree)
		sizes = append(sizes, total)
	}
	isLeaf := func(tree map[string]diveEntry, p string) bool {
		for q := range tree {
			if strings.HasPrefix(q, p+"/") {
				return false
			}
		}
		return true
	}
	cum, minSize, seen := map[string]int64{}, map[string]int64{}, map[string]int{}
	for i, tree := range trees {
		for p, e := range tree {
			if p == "/" || (e.dir && !isLeaf(tree, p)) {
				continue
			}
			n := e.size
			if e.whiteout { // the stacked tree of the layers below (dive: 0 … i-1)
				n = 0
				wasDir := false
				for j := 0; j < i; j++ {
					if d, ok := trees[j][p]; ok && !d.whiteout {
						wasDir = d.dir
					}
				}
				if wasDir {
					for j := 0; j < i; j++ {
						for q, d := range trees[j] {
							if strings.HasPrefix(q, p+"/") && !d.whiteout {
								n += d.size
							}
						}
					}
				}
			}
			cum[p] += n
			if m, ok := minSize[p]; !ok || n < m {
				minSize[p] = n
			}
			seen[p]++
		}
	}
	var d diveNumbers
	var sumMin, sumCum int64
	for p := range cum {
		sumMin += minSize[p]
		sumCum += cum[p]
		if seen[p] > 1 {
			d.wasted += cum[p]
		}
	}
	d.efficiency = 1
	if sumCum > 0 {
		d.efficiency = float64(sumMin) / float64(sumCum)
	}
	for _, s := range sizes[1:] {
		d.userSize += s
	}
	if d.userSize > 0 {
		d.userPct = float64(d.wasted) / float64(d.userSize)
	}
	return d
}

// TestDiveComparison builds three images with known waste and sets
// strata's numbers beside dive's definition: the same where a file is
// deleted later, twice strata's where a file is replaced or copied up
// (dive counts the copy that is kept), nothing for a duplicate at another
// path (dive does not look), and dive's user share over layer 1 only.
func TestDiveComparison(t *testing.T) {
	runner := needSandbox(t)
	bb := string(rootfs.BusyboxTar(t))
	for _, tc := range []struct {
		name   string
		df     string
		files  map[string]string
		strata int64 // wasted bytes
		dive   int64
	}{
		{"delete later", "FROM scratch\nADD rootfs.tar /\nRUN head -c 5000000 /dev/urandom > /tmp/pkg.tar && head -c 300000 /dev/urandom > /keep\nRUN rm /tmp/pkg.tar\n",
			nil, 5_000_000, 5_000_000},
		{"chmod copy-up", "FROM scratch\nADD rootfs.tar /\nCOPY app.bin /app/bin\nRUN chmod 755 /app/bin\n",
			map[string]string{"app.bin": pattern(2_000_000, 3)}, 2_000_000, 4_000_000},
		{"overwrite duplicate hardlink", "FROM scratch\nADD rootfs.tar /\nRUN head -c 3000000 /dev/urandom > /data\nRUN head -c 1000000 /dev/urandom > /data\n" +
			"RUN head -c 500000 /dev/urandom > /a\nRUN cp /a /b\nRUN head -c 2000000 /dev/urandom > /h1 && ln /h1 /h2\nRUN rm /h1 /h2\n",
			nil, 3_000_000 + 500_000 + 2_000_000, 3_000_000 + 1_000_000 + 2_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := testutil.TempStore(t, layers.Open)
			files := map[string]string{"rootfs.tar": bb}
			for k, v := range tc.files {
				files[k] = v
			}
			a, _ := buildImage(t, store, runner, tc.df, files, frontend.Options{})
			d := diveOf(t, store, a)
			var kinds []string
			for _, w := range a.Wastes {
				kinds = append(kinds, string(w.Kind)+" "+w.Path)
			}
			sort.Strings(kinds)
			t.Logf("%s: strata wasted %d (efficiency %.4f, user %d of %d content, base %d layers; %s) | dive wasted %d (efficiency %.4f, user %.2f%% of %d bytes of layers 2..%d)",
				tc.name, a.Image.Wasted, a.Image.Efficiency, a.User.Wasted, a.User.Content, a.BaseImg.Layers, strings.Join(kinds, ", "),
				d.wasted, d.efficiency, 100*d.userPct, d.userSize, len(a.Layers))
			if a.Image.Wasted != tc.strata || d.wasted != tc.dive {
				t.Errorf("wasted: strata %d, dive's definition %d; want %d and %d", a.Image.Wasted, d.wasted, tc.strata, tc.dive)
			}
		})
	}
}
