package build

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/testutil"
)

// The heap of a build must not grow with the number of files a step
// makes (issue 17's flat memory): these build the same step at 20,000 and
// 200,000 entries and compare the heap's high-water marks.

// writeEntriesTar writes a tar of n entries: directories dNNN of 1,000
// entries each (the directory and 999 empty files).
func writeEntriesTar(t testing.TB, file string, n int) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(w)
	mtime := time.Unix(1704067200, 0)
	for i := range n {
		h := &tar.Header{Name: fmt.Sprintf("d%03d/f%03d", i/1000, i%1000), Mode: 0o644, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if i%1000 == 0 {
			h.Name, h.Mode, h.Typeflag = fmt.Sprintf("d%03d/", i/1000), 0o755, tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeSmallFiles writes n files of 200 bytes under dir/files, 100 per
// directory (bench/copy100k's shape).
func writeSmallFiles(t testing.TB, dir string, n int) {
	t.Helper()
	body := make([]byte, 200)
	for i := range body {
		body[i] = 'x'
	}
	for i := range n {
		d := filepath.Join(dir, "files", fmt.Sprintf("d%d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i%100)), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// measureBuild builds ctxDir (its Dockerfile) into a fresh store and
// returns the heap's high-water mark over the build. With
// STRATA_HEAPPROFILE set to a directory, it writes the live heap at the
// last step's StepDone there as heap-NAME.pprof (go tool pprof): what the
// build holds once the step is done.
func measureBuild(t testing.TB, ctxDir, name string) testutil.MemUse {
	t.Helper()
	store := newStore(t)
	opt := frontend.Options{ContextDir: ctxDir}
	p, err := frontend.NewPlan(opt)
	if err != nil {
		t.Fatal(err)
	}
	last := len(p.Steps) - 1
	profDir := os.Getenv("STRATA_HEAPPROFILE")
	var buildErr error
	use := testutil.MeasureMem(func() any {
		e := &Executor{Store: store, Plan: p, Opt: opt}
		ch := make(chan event.Event, 16)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range ch {
				if d, ok := ev.(event.StepDone); ok && d.Step == last && profDir != "" {
					if f, err := os.Create(filepath.Join(profDir, "heap-"+name+".pprof")); err == nil {
						// the profile tells the heap as of up to two GCs ago: these
						runtime.GC()
						runtime.GC()
						pprof.Lookup("heap").WriteTo(f, 0)
						f.Close()
					}
				}
			}
		}()
		res, err := e.Build(context.Background(), ch)
		wg.Wait()
		buildErr = err
		return res
	})
	if buildErr != nil {
		t.Fatalf("build of %s: %v", name, buildErr)
	}
	return use
}

// TestAddTarHeapFlat: ADD of a local tar of 200,000 entries peaks at no
// more than 1.5 times the heap of a tar of 20,000: extraction, the diff of
// the staged tree and the change list do not hold per-entry state.
func TestAddTarHeapFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 220,000 files: not with -short")
	}
	needRoot(t)
	rootTar := busyboxRootfs(t)
	peak := map[int]uint64{}
	for _, n := range []int{20_000, 200_000} {
		ctx := t.TempDir()
		writeTree(t, ctx, map[string]string{"rootfs.tar": string(rootTar), "Dockerfile": "FROM scratch\nADD rootfs.tar /\nADD big.tar /data/\n"})
		writeEntriesTar(t, filepath.Join(ctx, "big.tar"), n)
		u := measureBuild(t, ctx, fmt.Sprintf("add%d", n))
		peak[n] = u.Peak
		t.Logf("ADD of a tar of %d entries: peak heap %.1f MB (allocated %.0f MB in all)", n, float64(u.Peak)/1e6, float64(u.Total)/1e6)
	}
	if a, b := peak[20_000], peak[200_000]; float64(b) > 1.5*float64(a) {
		t.Errorf("peak heap %.1f MB for 200,000 entries, %.1f MB for 20,000: over 1.5 times (%.2f×), memory grows with the entries", float64(b)/1e6, float64(a)/1e6, float64(b)/float64(a))
	}
}

// BenchmarkCopyHeap reports the heap's high-water mark (garbage
// included: testutil.MeasureMem) of a COPY of 20,000 and 200,000 small
// files; TestCopyMemoryFlat asserts the live heap's.
func BenchmarkCopyHeap(b *testing.B) {
	needRoot(b)
	rootTar := busyboxRootfs(b)
	for _, n := range []int{20_000, 200_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := b.TempDir()
			writeTree(b, ctx, map[string]string{"rootfs.tar": string(rootTar), "Dockerfile": "FROM scratch\nADD rootfs.tar /\nCOPY files /data\n"})
			writeSmallFiles(b, ctx, n)
			b.ResetTimer()
			var peak uint64
			for range b.N {
				peak = max(peak, measureBuild(b, ctx, fmt.Sprintf("copy%d", n)).Peak)
			}
			b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
		})
	}
}

// TestCopyMemoryFlat: a COPY keeps nothing per file in memory: the
// checksums go to a sums file, the change list to changes.json as the
// tar is written, and an incremental COPY's links from the last layer are
// neither remembered by the differ nor kept in a map (a sparse bitmap;
// the unchanged sources as 16-byte fingerprints). The peak live heap of a
// cold build, a no-change rebuild and a one-file-change rebuild of a COPY
// of 200,000 small files stays within 1.5 times that of 20,000.
func TestCopyMemoryFlat(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("-short: writes and copies 220,000 files")
	}
	assertHeapFlat(t, "FROM scratch\nADD rootfs.tar /\nCOPY files /files\n", map[string][]byte{"rootfs.tar": busyboxRootfs(t)})
}
