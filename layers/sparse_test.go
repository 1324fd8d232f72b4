package layers

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-build/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

const gib = int64(1) << 30

// sparseFile makes a file of size bytes that is one hole but for the
// strings written at the given offsets.
func sparseFile(t testing.TB, p string, size int64, at map[int64]string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, s := range at {
		if _, err := f.WriteAt([]byte(s), off); err != nil {
			t.Fatal(err)
		}
	}
}

// allocated is the disk space a file takes (st_blocks).
func allocated(t testing.TB, p string) int64 {
	t.Helper()
	return lstat(t, p).Blocks * 512
}

// checkSparseContent checks that the file at p has size bytes, takes
// little disk space and holds the strings of at and zeros elsewhere
// (where it has data).
func checkSparseContent(t testing.TB, p string, size int64, at map[int64]string) {
	t.Helper()
	st := lstat(t, p)
	if st.Size != size {
		t.Errorf("%s: size %d, want %d", p, st.Size, size)
	}
	if a := st.Blocks * 512; a > 1<<20 {
		t.Errorf("%s takes %d bytes on disk: its holes were filled", p, a)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for off, s := range at {
		b := make([]byte, len(s))
		if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if string(b) != s {
			t.Errorf("%s at %d: %q, want %q", p, off, b, s)
		}
	}
	// Every data segment holds zeros but for the strings.
	fd := int(f.Fd())
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hole, _ := unix.Seek(fd, data, unix.SEEK_HOLE)
		for o := data; o < hole; {
			n, err := f.ReadAt(buf[:min(int64(len(buf)), hole-o)], o)
			if n == 0 && err != nil {
				t.Fatal(err)
			}
			for i, c := range buf[:n] {
				if c == 0 {
					continue
				}
				pos := o + int64(i)
				ok := false
				for at0, s := range at {
					if pos >= at0 && pos < at0+int64(len(s)) {
						ok = true
					}
				}
				if !ok {
					t.Fatalf("%s: byte %d is %#x, want 0", p, pos, c)
				}
			}
			o += int64(n)
		}
		off = hole
	}
}

// zeroCheck is a writer that counts bytes and remembers the non-zero ones.
type zeroCheck struct {
	n       int64
	nonzero map[int64]byte
}

func (z *zeroCheck) Write(p []byte) (int, error) {
	if !bytes.Equal(p, zeros[:min(len(p), len(zeros))]) || len(p) > len(zeros) {
		for i, c := range p {
			if c != 0 {
				if z.nonzero == nil {
					z.nonzero = map[int64]byte{}
				}
				if len(z.nonzero) < 100 {
					z.nonzero[z.n+int64(i)] = c
				}
			}
		}
	}
	z.n += int64(len(p))
	return len(p), nil
}

// TestDiffSparse: a layer of a 4 GiB sparse file is a tar of a few KB in
// GNU's PAX sparse format 1.0 that archive/tar and GNU tar read back as
// the 4 GiB file, and that Extract unpacks with its holes.
func TestDiffSparse(t *testing.T) {
	upper := t.TempDir()
	at := map[int64]string{gib + 3: "hello", 4*gib - 3: "end"}
	sparseFile(t, filepath.Join(upper, "hole"), 4*gib, at)
	sparseFile(t, filepath.Join(upper, "empty-hole"), 2*gib, nil)
	// A small hole is kept as zeros: the file is an ordinary entry.
	smallAt := map[int64]string{0: "a", 40 << 10: "m", 100<<10 - 1: "z"}
	sparseFile(t, filepath.Join(upper, "small-hole"), 100<<10, smallAt)
	longName := strings.Repeat("d", 90) + "/" + strings.Repeat("é", 40)
	os.MkdirAll(filepath.Join(upper, filepath.Dir(longName)), 0o755)
	sparseFile(t, filepath.Join(upper, longName), 3*gib, map[int64]string{5: "x"})
	xattr := true
	if err := unix.Setxattr(filepath.Join(upper, "hole"), "user.note", []byte("kept"), 0); err == unix.ENOTSUP {
		xattr = false
	} else if err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(upper, "hole"), mtime, mtime)

	var buf bytes.Buffer
	start := time.Now()
	changes, err := Diff(upper, nil, &capWriter{w: &buf, max: 1 << 20}, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("diff of 9 GiB of sparse files: %d bytes of tar in %v", buf.Len(), time.Since(start))
	if buf.Len() > 100<<10+32<<10 { // small-hole is 100 KiB of it, data blocks are 4 KiB
		t.Fatalf("the layer tar is %d bytes: the holes were stored as zeros", buf.Len())
	}
	for _, c := range changes {
		if c.Path == "/hole" && c.Size != 4*gib {
			t.Errorf("change %s: size %d, want %d", c.Path, c.Size, 4*gib)
		}
	}

	// archive/tar (containerd, podman, umoci, docker) reads it back.
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = h
		if h.Typeflag != tar.TypeReg {
			continue
		}
		z := &zeroCheck{}
		if _, err := io.CopyBuffer(z, tr, make([]byte, len(zeros))); err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if z.n != h.Size {
			t.Errorf("%s: read %d bytes, header says %d", h.Name, z.n, h.Size)
		}
		want := map[string]map[int64]string{"hole": at, longName: {5: "x"}, "small-hole": smallAt}[h.Name]
		nz := 0
		for off, s := range want {
			for i := range len(s) {
				if z.nonzero[off+int64(i)] != s[i] {
					t.Errorf("%s at %d: %q, want %q", h.Name, off+int64(i), z.nonzero[off+int64(i)], s[i])
				}
				nz++
			}
		}
		if len(z.nonzero) != nz {
			t.Errorf("%s: non-zero bytes %v, want those of %v", h.Name, z.nonzero, want)
		}
	}
	for name, size := range map[string]int64{"hole": 4 * gib, "empty-hole": 2 * gib, "small-hole": 100 << 10, longName: 3 * gib} {
		h := seen[name]
		if h == nil {
			t.Errorf("tar lacks %q (has %v)", name, keys(seen))
			continue
		}
		if h.Size != size {
			t.Errorf("%s: size %d, want %d", name, h.Size, size)
		}
		if h.Mode != 0o644 && h.Mode != 0o664 && h.Mode != 0o600 {
			t.Errorf("%s: mode %o", name, h.Mode)
		}
	}
	if h := seen["hole"]; h != nil {
		if !h.ModTime.Equal(mtime) {
			t.Errorf("hole: mtime %v, want %v", h.ModTime, mtime)
		}
		if v := h.PAXRecords["SCHILY.xattr.user.note"]; xattr && v != "kept" {
			t.Errorf("hole: xattr user.note = %q", v)
		}
		if h.Uid != os.Getuid() {
			t.Errorf("hole: uid %d, want %d", h.Uid, os.Getuid())
		}
	}
	if h := seen["small-hole"]; h != nil && h.PAXRecords["GNU.sparse.major"] != "" {
		t.Errorf("small-hole was written sparse; a hole under %d bytes is stored as zeros", sparseMinHole)
	}

	// Extract keeps the holes.
	out := t.TempDir()
	if _, err := extract(bytes.NewReader(buf.Bytes()), out); err != nil {
		t.Fatal(err)
	}
	checkSparseContent(t, filepath.Join(out, "hole"), 4*gib, at)
	checkSparseContent(t, filepath.Join(out, "empty-hole"), 2*gib, nil)
	checkSparseContent(t, filepath.Join(out, longName), 3*gib, map[int64]string{5: "x"})
	if got := readFile(t, filepath.Join(out, "small-hole")); len(got) != 100<<10 || got[0] != 'a' || got[len(got)-1] != 'z' {
		t.Errorf("small-hole: %d bytes", len(got))
	}

	// GNU tar reads the format too.
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar is not installed")
	}
	tf := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(tf, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gnu := t.TempDir()
	if out, err := exec.Command("tar", "-xf", tf, "-C", gnu).CombinedOutput(); err != nil {
		t.Fatalf("GNU tar -x: %v\n%s", err, out)
	}
	checkSparseContent(t, filepath.Join(gnu, "hole"), 4*gib, at)
	checkSparseContent(t, filepath.Join(gnu, "empty-hole"), 2*gib, nil)
	checkSparseContent(t, filepath.Join(gnu, longName), 3*gib, map[int64]string{5: "x"})
	if _, err := os.Lstat(filepath.Join(gnu, "GNUSparseFile.0")); err == nil {
		t.Errorf("GNU tar extracted the sparse entry under its placeholder name")
	}
}

// capWriter fails a write past max bytes (a layer that holds its holes
// as zeros would fill memory).
type capWriter struct {
	w   io.Writer
	n   int64
	max int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if c.n += int64(len(p)); c.n > c.max {
		return 0, fmt.Errorf("the layer tar passes %d bytes: holes are written as zeros", c.max)
	}
	return c.w.Write(p)
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

// TestCopyToFdHoles: zero blocks become holes wherever they are in the
// stream, and the file gets its size when it ends in zeros.
func TestCopyToFdHoles(t *testing.T) {
	for _, tc := range []struct {
		name string
		segs map[int64]string
		size int64
	}{
		{"data-hole-data", map[int64]string{0: "a", 10 << 20: "b"}, 10<<20 + 1},
		{"ends-in-hole", map[int64]string{4095: "x"}, 8 << 20},
		{"unaligned-tail", map[int64]string{1 << 20: "y"}, 1<<20 + 5000},
		{"all-zero", nil, 5 << 20},
		{"short", map[int64]string{0: "abc"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := make([]byte, tc.size)
			for off, s := range tc.segs {
				copy(content[off:], s)
			}
			p := filepath.Join(t.TempDir(), "f")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			// a reader handing out odd-sized pieces
			n, err := copyToFd(int(f.Fd()), io.LimitReader(&oddReader{b: content}, tc.size), make([]byte, 256<<10))
			f.Close()
			if err != nil || n != tc.size {
				t.Fatalf("copyToFd = %d, %v; want %d", n, err, tc.size)
			}
			got, _ := os.ReadFile(p)
			if !bytes.Equal(got, content) {
				t.Fatalf("content differs")
			}
			if a := allocated(t, p); a > 64<<10 {
				t.Errorf("file takes %d bytes on disk", a)
			}
		})
	}
}

type oddReader struct {
	b []byte
	i int
}

func (r *oddReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	r.i++
	n := min(len(p), len(r.b), 1000+r.i*7919%70000)
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// TestImportSparseTar: an imported layer tar with a 4 GiB sparse entry
// (GNU tar's formats and ours) stays small in the store: the blob is the
// tar as it came, the unpacked file keeps its holes.
func TestImportSparseTar(t *testing.T) {
	src := t.TempDir()
	at := map[int64]string{2 * gib: "middle"}
	sparseFile(t, filepath.Join(src, "big"), 4*gib, at)
	tars := map[string][]byte{}
	var buf bytes.Buffer
	if _, err := Diff(src, nil, &capWriter{w: &buf, max: 1 << 20}, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	tars["strata"] = buf.Bytes()
	if _, err := exec.LookPath("tar"); err == nil {
		for name, args := range map[string][]string{
			"gnu-tar-gnu":       {"--sparse", "--format=gnu"},
			"gnu-tar-posix-1.0": {"--sparse", "--format=posix", "--sparse-version=1.0"},
			"gnu-tar-posix-0.1": {"--sparse", "--format=posix", "--sparse-version=0.1"},
		} {
			tf := filepath.Join(t.TempDir(), "l.tar")
			cmd := exec.Command("tar", append(args, "-cf", tf, "-C", src, "big")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("tar %v: %v\n%s", args, err, out)
			}
			b, _ := os.ReadFile(tf)
			tars[name] = b
		}
	} else {
		t.Log("GNU tar is not installed: only strata's own sparse tar is imported")
	}
	for name, b := range tars {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			meta, err := s.ImportLayer(bytes.NewReader(b), v1.Hash{})
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(s.blobPath(meta.DiffID))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > 64<<10 || meta.Size != fi.Size() {
				t.Errorf("blob of %d bytes (meta says %d) for a %d-byte tar", fi.Size(), meta.Size, len(b))
			}
			checkSparseContent(t, filepath.Join(s.LayerFS(meta.DiffID), "big"), 4*gib, at)
			// what prune reports as freed
			if du := DiskUsage(s.Root()); du > 4<<20 {
				t.Errorf("the store takes %d bytes on disk (by DiskUsage)", du)
			}
		})
	}
}

func openStore(t testing.TB) *Store {
	t.Helper()
	return testutil.TempStore(t, Open)
}

// TestSparseLayerUmoci: an image with a sparse layer, exported as an OCI
// layout, is unpacked by umoci (a consumer built on archive/tar) with the
// file's content and size.
func TestSparseLayerUmoci(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("umoci"); err != nil {
		t.Skip("umoci is not installed (CI installs it)")
	}
	s := openStore(t)
	upper := t.TempDir()
	// umoci writes the zeros out: a smaller file than the other tests use.
	at := map[int64]string{0: "start", 200 << 20: "mid"}
	sparseFile(t, filepath.Join(upper, "hole"), 256<<20, at)
	var buf bytes.Buffer
	if _, err := Diff(upper, nil, &capWriter{w: &buf, max: 1 << 20}, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	meta, err := s.ImportLayer(bytes.NewReader(buf.Bytes()), v1.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &v1.ConfigFile{Architecture: "amd64", OS: "linux", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{meta.DiffID}}}
	rec, err := s.SaveImage(cfg)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image(rec.Config)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	if err := WriteOCILayout(dir, img, []string{"sparse:1"}); err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	if m.Layers[0].Size > 64<<10 {
		t.Errorf("compressed layer of %d bytes", m.Layers[0].Size)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command("umoci", "unpack", "--image", dir+":1", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(bundle, "rootfs", "hole"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if fi.Size() != 256<<20 {
		t.Errorf("umoci unpacked hole with %d bytes, want %d", fi.Size(), 256<<20)
	}
	for off, want := range at {
		b := make([]byte, len(want))
		f.ReadAt(b, off)
		if string(b) != want {
			t.Errorf("umoci's hole at %d: %q, want %q", off, b, want)
		}
	}
}

// TestSparseManySegments: a file with more data runs than a sparse map
// may hold (archive/tar reads at most 1 MiB of map) gets a coarser map
// that readers accept.
func TestSparseManySegments(t *testing.T) {
	upper := t.TempDir()
	at := map[int64]string{}
	const n = sparseMaxSegments + 100
	for i := range int64(n) {
		at[i*(sparseMinHole+sparseAlign)] = "d"
	}
	size := int64(n) * (sparseMinHole + sparseAlign)
	sparseFile(t, filepath.Join(upper, "f"), size, at)
	tf, err := os.Create(filepath.Join(t.TempDir(), "layer.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	// the data blocks, and the 100 smallest holes as zeros
	want := int64(n)*sparseAlign + 100*sparseMinHole
	if _, err := Diff(upper, nil, &capWriter{w: tf, max: want + 2<<20}, DiffOptions{}); err != nil {
		t.Fatal(err)
	}
	tf.Seek(0, io.SeekStart)
	tr := tar.NewReader(tf)
	h, err := tr.Next()
	if err != nil {
		t.Fatalf("archive/tar refuses the entry: %v", err)
	}
	if h.Name != "f" || h.Size != size {
		t.Fatalf("entry %q of %d bytes, want f of %d", h.Name, h.Size, size)
	}
	z := &zeroCheck{}
	if _, err := io.Copy(z, tr); err != nil {
		t.Fatal(err)
	}
	if z.n != size {
		t.Errorf("read %d bytes, want %d", z.n, size)
	}
	for off := range at {
		if off < 100*(sparseMinHole+sparseAlign) && z.nonzero[off] != 'd' {
			t.Errorf("byte %d is %q, want 'd'", off, z.nonzero[off])
		}
	}
}

// FuzzSparseRoundTrip: a file with holes and data where the fuzzer puts
// them goes through Diff and Extract (and archive/tar) unchanged.
func FuzzSparseRoundTrip(f *testing.F) {
	f.Add(uint32(8<<20), []byte{0, 0, 1, 0x80, 0, 2, 0xff, 0xff, 3})
	f.Add(uint32(200<<10), []byte{0, 0, 9})
	f.Add(uint32(1<<20), []byte{})
	f.Add(uint32(70000), []byte{0x01, 0x10, 7, 0x00, 0x01, 8})
	f.Fuzz(func(t *testing.T, size uint32, writes []byte) {
		size %= 8 << 20
		content := make([]byte, size)
		upper := t.TempDir()
		fp, err := os.Create(filepath.Join(upper, "f"))
		if err != nil {
			t.Fatal(err)
		}
		fp.Truncate(int64(size))
		// each write: 2 bytes of position (in 128-byte steps), 1 byte of value
		for i := 0; i+2 < len(writes) && size > 0; i += 3 {
			off := (int64(writes[i])<<8 | int64(writes[i+1])) * 128 % int64(size)
			b := []byte{writes[i+2], writes[i+2], writes[i+2]}
			b = b[:min(int64(len(b)), int64(size)-off)]
			fp.WriteAt(b, off)
			copy(content[off:], b)
		}
		fp.Close()
		var buf bytes.Buffer
		if _, err := Diff(upper, nil, &buf, DiffOptions{}); err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
		h, err := tr.Next()
		if err != nil || h.Name != "f" || h.Size != int64(size) {
			t.Fatalf("archive/tar: %v, %+v", err, h)
		}
		got, err := io.ReadAll(tr)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("archive/tar reads other content (%v)", err)
		}
		out := t.TempDir()
		if _, err := extract(bytes.NewReader(buf.Bytes()), out); err != nil {
			t.Fatal(err)
		}
		got, err = os.ReadFile(filepath.Join(out, "f"))
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("Extract wrote other content (%v)", err)
		}
	})
}

// TestCopySparse: CopySparse copies content and size and keeps the holes.
func TestCopySparse(t *testing.T) {
	dir := t.TempDir()
	at := map[int64]string{0: "head", gib: "middle", 3*gib - 1: "z"}
	sparseFile(t, filepath.Join(dir, "src"), 3*gib, at)
	sparseFile(t, filepath.Join(dir, "tail-hole"), 2*gib, map[int64]string{100: "x"})
	for _, name := range []string{"src", "tail-hole"} {
		src, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(dir, name+".copy"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := CopySparse(dst, src)
		src.Close()
		dst.Close()
		fi, _ := os.Stat(filepath.Join(dir, name))
		if err != nil || n != fi.Size() {
			t.Fatalf("CopySparse(%s) = %d, %v", name, n, err)
		}
	}
	checkSparseContent(t, filepath.Join(dir, "src.copy"), 3*gib, at)
	checkSparseContent(t, filepath.Join(dir, "tail-hole.copy"), 2*gib, map[int64]string{100: "x"})

	// To another filesystem (tmpfs), where copy_file_range may refuse.
	shm, err := os.MkdirTemp("/dev/shm", "strata-copysparse-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	defer os.RemoveAll(shm)
	src, _ := os.Open(filepath.Join(dir, "src"))
	defer src.Close()
	dst, err := os.Create(filepath.Join(shm, "copy"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := CopySparse(dst, src); err != nil {
		t.Fatal(err)
	}
	checkSparseContent(t, dst.Name(), 3*gib, at)
}
