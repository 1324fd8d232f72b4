package layers

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-build/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// requireRoot skips tests that need root (mknod, chown, trusted xattrs,
// overlay mounts).
func requireRoot(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t, "mknod, chown, trusted.* xattrs, overlay mounts")
}

var overlayCheck struct {
	once sync.Once
	err  error
}

// requireOverlay skips the test when overlayfs cannot be mounted here.
func requireOverlay(t testing.TB) {
	t.Helper()
	requireRoot(t)
	overlayCheck.once.Do(func() {
		base, err := os.MkdirTemp("", "strata-ovl-probe")
		if err != nil {
			overlayCheck.err = err
			return
		}
		defer os.RemoveAll(base)
		for _, d := range []string{"l", "u", "w", "m"} {
			os.Mkdir(filepath.Join(base, d), 0o755)
		}
		opts := fmt.Sprintf("lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", base, base, base)
		if err := unix.Mount("overlay", base+"/m", "overlay", 0, opts); err != nil {
			overlayCheck.err = err
			return
		}
		unix.Unmount(base+"/m", unix.MNT_DETACH)
	})
	if overlayCheck.err != nil {
		t.Skipf("overlayfs is not available: %v", overlayCheck.err)
	}
}

// mountOverlay mounts an overlay of lowers (top first) with a fresh upper
// dir; it returns the merged dir, the upper dir and an unmount func (also
// run at cleanup).
func mountOverlay(t testing.TB, lowers ...string) (merged, upper string, unmount func()) {
	t.Helper()
	base := t.TempDir()
	merged, upper, work := base+"/merged", base+"/upper", base+"/work"
	for _, d := range []string{merged, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"), upper, work)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	mounted := true
	unmount = func() {
		if mounted {
			if err := unix.Unmount(merged, 0); err != nil {
				t.Errorf("unmount %s: %v", merged, err)
				unix.Unmount(merged, unix.MNT_DETACH)
			}
			mounted = false
		}
	}
	t.Cleanup(unmount)
	return merged, upper, unmount
}

// mountLowers mounts a read-only overlay of lowers (top first, at least 2).
func mountLowers(t testing.TB, lowers ...string) (merged string, unmount func()) {
	t.Helper()
	merged = t.TempDir()
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, opts); err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	mounted := true
	unmount = func() {
		if mounted {
			if err := unix.Unmount(merged, 0); err != nil {
				t.Errorf("unmount %s: %v", merged, err)
				unix.Unmount(merged, unix.MNT_DETACH)
			}
			mounted = false
		}
	}
	t.Cleanup(unmount)
	return merged, unmount
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, p, body string, mode os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), mode))
	must(t, os.Chmod(p, mode))
}

// describeTree lists every path under root (but root) with what a layer
// keeps of it: type, mode, owner, size, mtime to the second, content hash,
// symlink target, device number and xattrs other than overlayfs' own.
func describeTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" size=%d sha=%x mtime=%d", st.Size, sha256.Sum256(b), st.Mtim.Sec)
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			desc += " link=" + l
		case unix.S_IFCHR, unix.S_IFBLK:
			desc += fmt.Sprintf(" rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		case unix.S_IFDIR:
			desc += fmt.Sprintf(" mtime=%d", st.Mtim.Sec)
		}
		buf := make([]byte, 4096)
		n, _ := unix.Llistxattr(p, buf)
		var xs []string
		for _, name := range strings.Split(string(buf[:n]), "\x00") {
			if name == "" || isOverlayXattr(name) {
				continue
			}
			v, _ := getxattr(p, name)
			xs = append(xs, fmt.Sprintf("%s=%q", name, v))
		}
		sort.Strings(xs)
		if len(xs) > 0 {
			desc += " xattrs=" + strings.Join(xs, ",")
		}
		rel, _ := filepath.Rel(root, p)
		out["/"+rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareTrees(t testing.TB, want, got map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want[k] != got[k] {
			t.Errorf("%s:\n  want %s\n  got  %s", k, want[k], got[k])
		}
	}
}

type tarRead struct {
	hdr  *tar.Header
	body string
}

func readTar(t testing.TB, b []byte) (order []string, ents map[string]tarRead) {
	t.Helper()
	ents = map[string]tarRead{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return order, ents
		}
		if err != nil {
			t.Fatalf("reading diff tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := ents[h.Name]; dup {
			t.Errorf("duplicate tar entry %s", h.Name)
		}
		order = append(order, h.Name)
		ents[h.Name] = tarRead{h, string(body)}
	}
}

// makeLower fills a lower dir the way the store does: by extracting a tar.
func makeLower(t testing.TB, ents ...tent) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := extract(bytes.NewReader(tarBytes(t, ents...)), dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDiffOverlay(t *testing.T) {
	requireOverlay(t)
	lower := makeLower(t,
		dirent("etc/", 0o755),
		file("etc/passwd", "root:x:0:0\n", 0o644),
		file("etc/keep", "k", 0o644),
		file("etc/hosts", "127.0.0.1 localhost\n", 0o644),
		file("data/a", "a", 0o644),
		file("data/sub/c", "c", 0o644),
		file("bin/tool", "tool", 0o755),
		file("del/file", "bye", 0o644),
		file("usr/lib/x", "x", 0o644),
		file("usr/lib/y/z", "z", 0o644),
		file("untouched/f", "f", 0o644),
	)
	merged, upper, unmount := mountOverlay(t, lower)
	m := func(p string) string { return merged + p }

	writeFile(t, m("/etc/new"), "new", 0o640)
	must(t, unix.Setxattr(m("/etc/new"), "user.note", []byte("hi"), 0))
	f, err := os.OpenFile(m("/etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	f.WriteString("u:x:1000:1000\n")
	f.Close()
	must(t, os.WriteFile(m("/etc/hosts"), []byte("changed but excluded"), 0o644))
	must(t, os.Remove(m("/del/file")))
	must(t, os.RemoveAll(m("/data")))
	writeFile(t, m("/data/z"), "z", 0o600)
	must(t, os.RemoveAll(m("/usr/lib")))
	writeFile(t, m("/h/one"), "linked", 0o644)
	must(t, os.Link(m("/h/one"), m("/h/two")))
	must(t, os.Symlink("/etc/passwd", m("/lnk")))
	must(t, unix.Chmod(m("/bin/tool"), 0o4755))
	must(t, os.Lchown(m("/etc/keep"), 1000, 1001))
	writeFile(t, m("/bin/ping"), "elf", 0o755)
	must(t, unix.Setxattr(m("/bin/ping"), "security.capability", []byte(capNetRaw), 0))
	must(t, os.MkdirAll(m("/run"), 0o755))
	must(t, unix.Mkfifo(m("/run/fifo"), 0o620))
	must(t, unix.Chmod(m("/run/fifo"), 0o620))
	must(t, unix.Mknod(m("/devnull"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Chmod(m("/devnull"), 0o666))
	writeFile(t, m("/tmp/gone"), "created then deleted", 0o644)
	must(t, os.Remove(m("/tmp/gone")))

	wantTree := describeTree(t, merged)
	delete(wantTree, "/etc/hosts") // excluded below: the lower's stays
	unmount()

	var buf bytes.Buffer
	changes, err := Diff(upper, []string{lower}, &buf, DiffOptions{Exclude: func(p string) bool { return p == "/etc/hosts" }})
	if err != nil {
		t.Fatal(err)
	}

	type kt struct {
		kind   ChangeKind
		typ    FileType
		opaque bool
	}
	got := map[string]kt{}
	for _, c := range changes {
		got[c.Path] = kt{c.Kind, c.Type, c.Opaque}
	}
	want := map[string]kt{
		"/bin":        {Modified, TypeDir, false},
		"/bin/ping":   {Added, TypeRegular, false},
		"/bin/tool":   {Modified, TypeRegular, false},
		"/data":       {Modified, TypeDir, true},
		"/data/z":     {Added, TypeRegular, false},
		"/del":        {Modified, TypeDir, false},
		"/del/file":   {Deleted, TypeRegular, false},
		"/devnull":    {Added, TypeChar, false},
		"/etc":        {Modified, TypeDir, false},
		"/etc/keep":   {Modified, TypeRegular, false},
		"/etc/new":    {Added, TypeRegular, false},
		"/etc/passwd": {Modified, TypeRegular, false},
		"/h":          {Added, TypeDir, false},
		"/h/one":      {Added, TypeRegular, false},
		"/h/two":      {Added, TypeHardlink, false},
		"/lnk":        {Added, TypeSymlink, false},
		"/run":        {Added, TypeDir, false},
		"/run/fifo":   {Added, TypeFIFO, false},
		"/tmp":        {Added, TypeDir, false},
		"/usr":        {Modified, TypeDir, false},
		"/usr/lib":    {Deleted, TypeDir, false},
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("change %s = %+v, want %+v", p, got[p], w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected change %s %+v", p, g)
		}
	}
	for i := 1; i < len(changes); i++ {
		if !pathBefore(changes[i-1].Path, changes[i].Path) {
			t.Errorf("changes out of order: %s before %s", changes[i-1].Path, changes[i].Path)
		}
	}
	for _, c := range changes {
		switch {
		case c.Path == "/h/two" && c.Linkname != "/h/one",
			c.Path == "/lnk" && (c.Linkname != "/etc/passwd" || c.Mode&fs.ModeSymlink == 0),
			c.Path == "/bin/tool" && (c.Mode != fs.ModeSetuid|0o755 || c.Size != 4),
			c.Path == "/etc/keep" && (c.UID != 1000 || c.GID != 1001),
			c.Path == "/data" && c.Mode != fs.ModeDir|0o755,
			c.Path == "/devnull" && c.Mode != fs.ModeDevice|fs.ModeCharDevice|0o666,
			c.Kind != Deleted && c.ModTime.IsZero():
			t.Errorf("change %+v", c)
		}
	}
	st := Stats(changes)
	if st.Deleted != 2 || st.Added != 11 {
		t.Errorf("stats %+v", st)
	}

	order, ents := readTar(t, buf.Bytes())
	for name, check := range map[string]func(tarRead) bool{
		"del/.wh.file":      func(e tarRead) bool { return e.hdr.Typeflag == tar.TypeReg && e.hdr.Size == 0 },
		"usr/.wh.lib":       func(e tarRead) bool { return e.hdr.Typeflag == tar.TypeReg },
		"data/.wh..wh..opq": func(e tarRead) bool { return e.hdr.Typeflag == tar.TypeReg },
		"data/":             func(e tarRead) bool { return e.hdr.Typeflag == tar.TypeDir },
		"data/z":            func(e tarRead) bool { return e.body == "z" && e.hdr.Mode == 0o600 },
		"etc/passwd":        func(e tarRead) bool { return e.body == "root:x:0:0\nu:x:1000:1000\n" },
		"etc/keep":          func(e tarRead) bool { return e.hdr.Uid == 1000 && e.hdr.Gid == 1001 && e.body == "k" },
		"etc/new":           func(e tarRead) bool { return e.hdr.PAXRecords["SCHILY.xattr.user.note"] == "hi" },
		"bin/tool":          func(e tarRead) bool { return e.hdr.Mode == 0o4755 && e.body == "tool" },
		"bin/ping":          func(e tarRead) bool { return e.hdr.PAXRecords["SCHILY.xattr.security.capability"] == capNetRaw },
		"h/one":             func(e tarRead) bool { return e.hdr.Typeflag == tar.TypeReg && e.body == "linked" },
		"h/two":             func(e tarRead) bool { return e.hdr.Typeflag == tar.TypeLink && e.hdr.Linkname == "h/one" },
		"lnk":               func(e tarRead) bool { return e.hdr.Typeflag == tar.TypeSymlink && e.hdr.Linkname == "/etc/passwd" },
		"run/fifo":          func(e tarRead) bool { return e.hdr.Typeflag == tar.TypeFifo && e.hdr.Mode == 0o620 },
		"devnull": func(e tarRead) bool {
			return e.hdr.Typeflag == tar.TypeChar && e.hdr.Devmajor == 1 && e.hdr.Devminor == 3
		},
		"tmp/":                   func(e tarRead) bool { return true },
		"etc/":                   func(e tarRead) bool { return e.hdr.Format == tar.FormatPAX || true },
		"usr/":                   func(e tarRead) bool { return true },
		"del/":                   func(e tarRead) bool { return true },
		"bin/":                   func(e tarRead) bool { return true },
		"h/":                     func(e tarRead) bool { return true },
		"run/":                   func(e tarRead) bool { return true },
		"data/.wh.a":             nil, // not listed: the opaque dir hides it
		"etc/hosts":              nil, // excluded
		"tmp/.wh.gone":           nil, // hid nothing
		"tmp/gone":               nil,
		"usr/lib/":               nil,
		"usr/lib/.wh.x":          nil,
		"untouched/":             nil,
		"untouched/f":            nil,
		"data/sub/.wh..wh..opq":  nil,
		"etc/.wh..wh..opq":       nil,
		".wh..wh..opq":           nil,
		"etc/new/.wh..wh..opq/x": nil,
	} {
		e, ok := ents[name]
		if check == nil {
			if ok {
				t.Errorf("tar has %s", name)
			}
			continue
		}
		if !ok {
			t.Errorf("tar lacks %s", name)
			continue
		}
		if !check(e) {
			t.Errorf("tar entry %s: %+v body %q", name, *e.hdr, e.body)
		}
	}
	for _, e := range ents {
		for k := range e.hdr.PAXRecords {
			if strings.Contains(k, "overlay") {
				t.Errorf("%s carries %s", e.hdr.Name, k)
			}
		}
	}
	for i := 1; i < len(order); i++ {
		a, b := strings.TrimSuffix(order[i-1], "/"), strings.TrimSuffix(order[i], "/")
		if strings.HasPrefix(a, b+"/") {
			t.Errorf("tar entry %s comes after its child %s", order[i], order[i-1])
		}
	}

	// Round trip: the diff extracted as a layer over the lower shows what
	// the container saw.
	layer := t.TempDir()
	if _, err := extract(bytes.NewReader(buf.Bytes()), layer); err != nil {
		t.Fatal(err)
	}
	view, unmountView := mountLowers(t, layer, lower)
	gotTree := describeTree(t, view)
	unmountView()
	delete(gotTree, "/etc/hosts")
	compareTrees(t, wantTree, gotTree)
}

// pathBefore reports whether a comes before b in a depth-first walk with
// sorted siblings.
func pathBefore(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

// TestDiffLowerChain checks the overlayfs lookup rules over several lowers
// on staging dirs (no mount): whiteouts and opaque dirs in lower layers.
func TestDiffLowerChain(t *testing.T) {
	requireRoot(t)
	bottom := makeLower(t,
		file("a/x", "x", 0o644),
		file("a/keep", "k", 0o644),
		file("b/y", "y", 0o644),
		file("c", "c", 0o644),
		file("d/deep/f", "f", 0o644),
	)
	top := makeLower(t,
		file("a/.wh.x", "", 0),
		dirent("b/", 0o755),
		file("b/.wh..wh..opq", "", 0),
		file("d", "now a file", 0o644),
	)
	upper := makeLower(t,
		file("a/.wh.x", "", 0),    // already deleted by top: hides nothing
		file("a/.wh.keep", "", 0), // deleted
		file("a/x", "again", 0o644),
		file("b/y", "new", 0o644), // b is opaque in top: y is new
		file("c", "changed", 0o644),
		file("d/deep/f", "f", 0o644), // d is a file in top: all of it is new
	)
	// the upper's a/x replaced the a/.wh.x whiteout in makeLower; make
	// another whiteout that hides nothing
	must(t, unix.Mknod(upper+"/a/gone", unix.S_IFCHR, 0))
	var buf bytes.Buffer
	changes, err := Diff(upper, []string{top, bottom}, &buf, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%s %s %s", c.Kind, c.Type, c.Path))
	}
	want := []string{
		"modified dir /a",
		"deleted file /a/keep",
		"added file /a/x",
		"modified dir /b",
		"added file /b/y",
		"modified file /c",
		"modified dir /d",
		"added dir /d/deep",
		"added file /d/deep/f",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, ents := readTar(t, buf.Bytes())
	if _, ok := ents["a/.wh.keep"]; !ok {
		t.Errorf("no whiteout for a/keep")
	}
	if _, ok := ents["a/.wh.gone"]; ok {
		t.Errorf("whiteout for a path no lower has")
	}
}

func TestDiffEmptyAndExcludedDir(t *testing.T) {
	upper := t.TempDir()
	writeFile(t, upper+"/proc/1/status", "x", 0o644)
	writeFile(t, upper+"/app/main", "m", 0o755)
	var buf bytes.Buffer
	changes, err := Diff(upper, nil, &buf, DiffOptions{Exclude: func(p string) bool { return p == "/proc" }})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Path != "/app" || changes[1].Path != "/app/main" || changes[1].Size != 1 {
		t.Errorf("changes %+v", changes)
	}
	order, _ := readTar(t, buf.Bytes())
	if strings.Join(order, " ") != "app/ app/main" {
		t.Errorf("tar %v", order)
	}

	buf.Reset()
	changes, err = Diff(t.TempDir(), nil, &buf, DiffOptions{})
	if err != nil || len(changes) != 0 {
		t.Fatalf("empty upper: %v %v", changes, err)
	}
	if buf.Len() != 1024 {
		t.Errorf("empty tar is %d bytes", buf.Len())
	}
}

// benchUpper makes an upper dir of 10,000 files totalling about 100 MB
// (sizes 0-20 KiB) in 100 directories.
func benchUpper(b *testing.B) (upper string, bytes int64) {
	b.Helper()
	upper = filepath.Join(b.TempDir(), "upper")
	rnd := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 20<<10)
	for i := range data {
		data[i] = byte(rnd.Uint32())
	}
	for d := range 100 {
		dir := fmt.Sprintf("%s/d%03d", upper, d)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			n := rnd.IntN(len(data) + 1)
			off := rnd.IntN(len(data) - n + 1)
			if err := os.WriteFile(fmt.Sprintf("%s/f%03d", dir, f), data[off:off+n], 0o644); err != nil {
				b.Fatal(err)
			}
			bytes += int64(n)
		}
	}
	return upper, bytes
}

// BenchmarkDiff10k compares Diff with `tar -C upper -cf FILE .` on the same
// tree, both writing a file on the same filesystem; "ratio" is Diff's time
// over tar's (the target is at most 1.3).
func BenchmarkDiff10k(b *testing.B) {
	if _, err := exec.LookPath("tar"); err != nil {
		b.Skip("tar is not installed")
	}
	upper, size := benchUpper(b)
	out := filepath.Join(filepath.Dir(upper), "out.tar")
	var tDiff, tTar time.Duration
	n := 0
	b.SetBytes(size)
	runDiff := func() {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Diff(upper, nil, f, DiffOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	runTar := func() {
		if msg, err := exec.Command("tar", "-C", upper, "-cf", out, ".").CombinedOutput(); err != nil {
			b.Fatalf("tar: %v\n%s", err, msg)
		}
	}
	timed := func(fn func()) time.Duration {
		// Each side starts with no output file and no dirty pages.
		os.Remove(out)
		unix.Sync()
		start := time.Now()
		fn()
		return time.Since(start)
	}
	for b.Loop() {
		// alternate who goes first
		if n%2 == 0 {
			tDiff += timed(runDiff)
			tTar += timed(runTar)
		} else {
			tTar += timed(runTar)
			tDiff += timed(runDiff)
		}
		n++
	}
	b.ReportMetric(float64(tDiff.Milliseconds())/float64(n), "diff-ms/op")
	b.ReportMetric(float64(tTar.Milliseconds())/float64(n), "tar-ms/op")
	b.ReportMetric(float64(tDiff)/float64(tTar), "ratio")
}

// TestDiffLinkedOutside: inodes the caller says are linked from outside
// the upper dir (an incremental COPY's files shared with the layer before)
// are written as the regular files they are, as without the option, and
// not remembered; a hard link inside the tree is still a link entry.
func TestDiffLinkedOutside(t *testing.T) {
	outside := t.TempDir()
	upper := t.TempDir()
	writeFile(t, outside+"/shared", "shared content", 0o644)
	must(t, os.MkdirAll(upper+"/app", 0o755))
	must(t, os.Link(outside+"/shared", upper+"/app/shared"))
	writeFile(t, upper+"/app/a", "a", 0o644)
	must(t, os.Link(upper+"/app/a", upper+"/app/b"))
	var st syscall.Stat_t
	must(t, syscall.Stat(upper+"/app/shared", &st))
	var plain, opted bytes.Buffer
	want, err := Diff(upper, nil, &plain, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var asked []uint64
	got, err := Diff(upper, nil, &opted, DiffOptions{LinkedOutside: func(ino uint64) bool {
		asked = append(asked, ino)
		return ino == st.Ino
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain.Bytes(), opted.Bytes()) {
		t.Errorf("the tar differs with LinkedOutside")
	}
	if len(got) != len(want) {
		t.Fatalf("%d changes, want %d", len(got), len(want))
	}
	links := 0
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, got[i], want[i])
		}
		if got[i].Type == TypeHardlink {
			links++
		}
	}
	if links != 1 {
		t.Errorf("%d hard link entries, want 1 (app/b to app/a)", links)
	}
	if !slices.Contains(asked, st.Ino) {
		t.Errorf("LinkedOutside was not asked about app/shared's inode %d (asked %v)", st.Ino, asked)
	}
}
