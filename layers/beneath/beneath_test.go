package beneath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// arena is a temp dir holding root/ (what a Root opens) and outside/ (what
// must never be read or changed through it).
type arena struct {
	dir, root, outside string
	outsideInodes      map[uint64]bool
}

func newArena(t testing.TB) *arena {
	t.Helper()
	d := t.TempDir()
	a := &arena{dir: d, root: filepath.Join(d, "root"), outside: filepath.Join(d, "outside")}
	for _, p := range []string{a.root, a.outside, filepath.Join(a.outside, "d")} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"secret", "d/secret", "a", "b"} {
		if err := os.WriteFile(filepath.Join(a.outside, f), []byte("secret "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a.outsideInodes = map[uint64]bool{}
	filepath.Walk(a.outside, func(p string, fi fs.FileInfo, err error) error {
		if err == nil {
			a.outsideInodes[fi.Sys().(*syscall.Stat_t).Ino] = true
		}
		return nil
	})
	var st syscall.Stat_t
	syscall.Stat(a.dir, &st)
	a.outsideInodes[st.Ino] = true
	return a
}

// snapshot describes everything outside root: the arena dir and outside/.
func (a *arena) snapshot(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	des, _ := os.ReadDir(a.dir)
	for _, de := range des {
		fmt.Fprintf(&b, "top %s\n", de.Name())
	}
	filepath.Walk(a.outside, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			fmt.Fprintf(&b, "err %v\n", err)
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v %d %d:%d %d %d", p, fi.Mode(), fi.Size(), st.Uid, st.Gid, st.Mtim.Nano(), st.Nlink)
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %q", data)
		}
		if x, err := unix.Llistxattr(p, make([]byte, 1024)); err == nil {
			fmt.Fprintf(&b, " x%d", x)
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

func (a *arena) checkFd(t testing.TB, f *os.File, what string) {
	t.Helper()
	if f == nil {
		return
	}
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	if p != a.root && !strings.HasPrefix(p, a.root+"/") {
		t.Fatalf("%s opened %s, outside the root %s", what, p, a.root)
	}
}

func (a *arena) checkInfo(t testing.TB, fi fs.FileInfo, what string) {
	t.Helper()
	if fi == nil {
		return
	}
	if a.outsideInodes[fi.Sys().(*syscall.Stat_t).Ino] {
		t.Fatalf("%s described %v, which is outside the root", what, fi)
	}
}

func mustOpen(t testing.TB, dir string, m Mode) *Root {
	t.Helper()
	r, err := Open(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// The reproductions of the holes this package closes: a symlink made
// earlier (by a COPY, a layer or a RUN) never takes a later write, read or
// removal onto the host.
func TestSymlinksNeverLeaveTheRoot(t *testing.T) {
	a := newArena(t)
	links := map[string]string{
		"abs":      a.outside,         // da/x -> /some/host/dir
		"rel":      "../outside",      // climbs out
		"deep":     "sub/../../../..", // climbs out after a detour
		"slash":    "/",
		"loop":     "loop",
		"sub/back": "../../outside/d",
	}
	os.Mkdir(filepath.Join(a.root, "sub"), 0o755)
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(a.root, l)); err != nil {
			t.Fatal(err)
		}
	}
	before := a.snapshot(t)
	r := mustOpen(t, a.root, FollowInside)
	for l := range links {
		name := l + "/secret"
		if f, err := r.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|unix.O_NONBLOCK, 0o644); err == nil {
			f.Close()
			t.Errorf("OpenFile(%s) for writing worked", name)
		} else if l != "loop" && !errors.Is(err, ErrOutside) {
			t.Errorf("OpenFile(%s): %v, want ErrOutside", name, err)
		}
		if f, err := r.Open(name); err == nil {
			f.Close()
			t.Errorf("Open(%s) for reading worked", name)
		}
		if _, err := r.ReadDir(l); err == nil && l != "sub/back" {
			t.Errorf("ReadDir(%s) worked", l)
		}
		for op, fn := range map[string]func() error{
			"Mkdir":     func() error { return r.Mkdir(l+"/new", 0o777) },
			"MkdirAll":  func() error { return r.MkdirAll(l+"/new/deeper", 0o777) },
			"Remove":    func() error { return r.Remove(name) },
			"RemoveAll": func() error { return r.RemoveAll(l + "/d") },
			"Chmod":     func() error { return r.Chmod(name, 0o777) },
			"Lchown":    func() error { return r.Lchown(name, 1234, 1234) },
			"Chtimes":   func() error { return r.Chtimes(name, time.Unix(1, 0), time.Unix(1, 0)) },
			"Symlink":   func() error { return r.Symlink("x", l+"/new") },
			"Link":      func() error { return r.Link(name, "stolen") },
			"Setxattr":  func() error { return r.Lsetxattr(name, "user.x", []byte("1")) },
		} {
			if err := fn(); err == nil {
				t.Errorf("%s through %s worked", op, l)
			}
		}
	}
	// The symlinks themselves can be changed and removed: they are data.
	if err := r.Lchown("abs", 1, 1); err != nil {
		t.Error(err)
	}
	if err := r.Chmod("abs", 0o700); err == nil {
		t.Error("Chmod of a symlink followed it or worked")
	}
	if err := r.RemoveAll("abs"); err != nil {
		t.Error(err)
	}
	if after := a.snapshot(t); after != before {
		t.Fatalf("outside changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestFollowInsideAndNoSymlinks(t *testing.T) {
	a := newArena(t)
	os.MkdirAll(filepath.Join(a.root, "real/dir"), 0o755)
	os.WriteFile(filepath.Join(a.root, "real/dir/f"), []byte("hi"), 0o644)
	os.Symlink("real", filepath.Join(a.root, "in"))
	r := mustOpen(t, a.root, FollowInside)
	if data, err := os.ReadFile(r.Path("in/dir/f")); err != nil || string(data) != "hi" {
		t.Fatalf("setup: %q %v", data, err)
	}
	f, err := r.Open("in/dir/f")
	if err != nil {
		t.Fatalf("a symlink inside the root is followed: %v", err)
	}
	f.Close()
	if err := r.MkdirAll("in/dir/x/y", 0o755); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(a.root, "real/dir/x/y")); err != nil || !fi.IsDir() {
		t.Fatalf("MkdirAll through an inside link: %v", err)
	}
	strict := mustOpen(t, a.root, NoSymlinks)
	if _, err := strict.Lstat("in/dir/f"); !errors.Is(err, ErrSymlink) {
		t.Fatalf("NoSymlinks Lstat through a link: %v, want ErrSymlink", err)
	}
	if fi, err := strict.Lstat("in"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("NoSymlinks Lstat of the link itself: %v %v", fi, err)
	}
	if _, err := strict.Lstat("../outside/secret"); err == nil {
		t.Fatal(".. climbed out")
	}
	if fi, err := strict.Lstat("/../../real/dir/f"); err != nil || fi.Size() != 2 {
		t.Fatalf("leading .. stays at the root: %v %v", fi, err)
	}
}

func TestOperations(t *testing.T) {
	a := newArena(t)
	r := mustOpen(t, a.root, FollowInside)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.MkdirAll("/a/b/c", 0o755))
	f, err := r.OpenFile("a/b/c/file", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	must(err)
	f.WriteString("data")
	f.Close()
	must(r.Lchown("a/b/c/file", 12, 34)) // before chmod: chown clears setuid
	must(r.Chmod("a/b/c/file", 0o755|os.ModeSetuid))
	mt := time.Unix(1000, 5)
	must(r.Chtimes("a/b/c/file", mt, mt))
	must(r.Symlink("c/file", "a/b/link"))
	must(r.Link("a/b/c/file", "a/hard"))
	must(r.Mknod("a/fifo", unix.S_IFIFO|0o644, 0))
	fi, err := r.Lstat("a/b/c/file")
	must(err)
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != 0o755|os.ModeSetuid || st.Uid != 12 || st.Gid != 34 || !fi.ModTime().Equal(mt) || st.Nlink != 2 {
		t.Fatalf("file: %v uid %d gid %d mtime %v nlink %d", fi.Mode(), st.Uid, st.Gid, fi.ModTime(), st.Nlink)
	}
	if l, err := r.Readlink("a/b/link"); err != nil || l != "c/file" {
		t.Fatalf("Readlink: %q %v", l, err)
	}
	if fi, err := r.Stat("a/b/link"); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("Stat follows: %v %v", fi, err)
	}
	es, err := r.ReadDir("a")
	must(err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name()+":"+e.Mode().Type().String())
	}
	if got := strings.Join(names, " "); got != "b:d--------- fifo:p--------- hard:----------" {
		t.Fatalf("ReadDir: %s", got)
	}
	if err := r.Lsetxattr("a/hard", "user.k", []byte("v")); err == nil {
		v, err := r.Lgetxattr("a/hard", "user.k")
		ns, _ := r.Llistxattr("a/hard")
		if err != nil || string(v) != "v" || !sort.StringsAreSorted(ns) || len(ns) == 0 {
			t.Fatalf("xattr: %q %v %v", v, err, ns)
		}
	}
	must(r.Remove("a/fifo"))
	must(r.RemoveAll("a"))
	if _, err := os.Lstat(filepath.Join(a.root, "a")); !os.IsNotExist(err) {
		t.Fatalf("RemoveAll left a: %v", err)
	}
	must(r.RemoveAll("missing/x"))
	if err := r.RemoveAll("/"); err == nil {
		t.Fatal("RemoveAll of the root itself worked")
	}
}

// FuzzBeneath builds a random tree of directories, files and symlinks
// (relative, absolute, climbing with ..) in root/, runs random operations
// through a Root, and checks the property: nothing outside root/ is ever
// opened, described, created, changed or removed.
func FuzzBeneath(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("\x02\x03\x01\x05\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0\xd0\xe0\xf0"))
	f.Add([]byte{3, 0, 3, 1, 3, 2, 3, 3, 9, 0, 9, 1, 9, 2, 1, 7, 2, 8})
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 256 {
			prog = prog[:256]
		}
		a := newArena(t)
		names := []string{"a", "b", "c", "a/b", "a/c", "b/a", "a/b/c", "c/d/e", ".", "..", "/a", "a/../b", "../outside", "a/./b/../c"}
		targets := []string{"..", "../..", "/", a.outside, "../outside", "a", "b/..", ".", "a/b", "../root/a", "/a", "../../outside/d", "c/../../..", "x", "", "loop"}
		before := a.snapshot(t)
		r := mustOpen(t, a.root, Mode(len(prog)%2))
		planter := mustOpen(t, a.root, NoSymlinks)
		next := func() int {
			if len(prog) == 0 {
				return 0
			}
			b := prog[0]
			prog = prog[1:]
			return int(b)
		}
		for len(prog) > 0 {
			op := next() % 20
			name := names[next()%len(names)]
			other := names[next()%len(names)]
			target := targets[next()%len(targets)]
			switch op {
			case 0:
				r.Mkdir(name, 0o755)
			case 1:
				r.MkdirAll(name+"/x", 0o755)
			case 2:
				// plant a symlink as hostile content would, with any target,
				// in a real directory of the root (planted through a
				// NoSymlinks root: the planting itself must not escape)
				if target != "" {
					planter.Symlink(target, name)
				}
			case 3:
				if f, err := r.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|unix.O_NONBLOCK, 0o644); err == nil {
					a.checkFd(t, f, "OpenFile "+name)
					f.WriteString("x")
					f.Close()
				}
			case 4:
				if f, err := r.Open(name); err == nil {
					a.checkFd(t, f, "Open "+name)
					f.Close()
				}
			case 5:
				r.Remove(name)
			case 6:
				r.RemoveAll(name)
			case 7:
				r.Chmod(name, 0o700)
			case 8:
				r.Lchown(name, 4321, 4321)
			case 9:
				r.Symlink(target, name)
			case 10:
				r.Link(name, other)
			case 11:
				r.Chtimes(name, time.Unix(7, 0), time.Unix(7, 0))
			case 12:
				fi, _ := r.Stat(name)
				a.checkInfo(t, fi, "Stat "+name)
			case 13:
				fi, _ := r.Lstat(name)
				a.checkInfo(t, fi, "Lstat "+name)
			case 14:
				es, _ := r.ReadDir(name)
				for _, e := range es {
					a.checkInfo(t, e, "ReadDir "+name)
				}
			case 15:
				r.Mknod(name, unix.S_IFIFO|0o600, 0)
			case 16:
				r.Lsetxattr(name, "user.fuzz", []byte("1"))
			case 17:
				r.Readlink(name)
			case 18:
				if fd, err := r.OpenDirFd(name, false); err == nil {
					f := os.NewFile(uintptr(fd), name)
					a.checkFd(t, f, "OpenDirFd "+name)
					f.Close()
				}
			case 19:
				if f, err := r.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
					a.checkFd(t, f, "OpenFile excl "+name)
					f.Close()
				}
			}
		}
		if after := a.snapshot(t); after != before {
			t.Fatalf("outside changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}
