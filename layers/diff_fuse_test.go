package layers

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDiffFuseOverlayfsForms: the upper dir fuse-overlayfs leaves (with a
// 0/0 device where it may mknod, else a ".wh.NAME" file; an opaque dir
// marked by user.fuseoverlayfs.opaque, ".wh..wh..opq" and a ".wh..opq"
// device, or by the ".wh..wh..opq" file alone) gives the same layer, byte
// for byte, and the same changes as the kernel overlay's upper dir for the
// same change: a lower file deleted, a lower dir replaced by a new one, a
// new dir, a hardlink.
func TestDiffFuseOverlayfsForms(t *testing.T) {
	requireRoot(t)
	lower := t.TempDir()
	writeFile(t, lower+"/gone", "a", 0o644)
	must(t, os.MkdirAll(lower+"/opq/sub", 0o755))
	writeFile(t, lower+"/opq/x", "b", 0o644)
	must(t, os.Mkdir(lower+"/d", 0o755))
	writeFile(t, lower+"/d/keep", "c", 0o644)

	// common is what every form has: the new files and dirs.
	common := func(upper string) {
		must(t, os.MkdirAll(upper+"/opq", 0o755))
		writeFile(t, upper+"/opq/new", "n", 0o644)
		must(t, os.MkdirAll(upper+"/newdir", 0o755))
		writeFile(t, upper+"/newdir/f", "f", 0o600)
		must(t, os.Chown(upper+"/newdir/f", 1000, 1000))
		must(t, os.Mkdir(upper+"/d", 0o755))
		writeFile(t, upper+"/d/keep", "c", 0o644)
		must(t, os.Link(upper+"/d/keep", upper+"/d/keep2"))
	}
	whiteoutDev := func(p string) { must(t, unix.Mknod(p, unix.S_IFCHR, 0)) }
	setX := func(p, name string) { must(t, unix.Lsetxattr(p, name, []byte("y"), 0)) }
	fuseOpaque := func(dir string, xattr, dev bool) {
		if xattr {
			setX(dir, "user.fuseoverlayfs.opaque")
		}
		writeFile(t, dir+"/.wh..wh..opq", "", 0o700)
		if dev {
			whiteoutDev(dir + "/.wh..opq")
		}
	}
	forms := map[string]func(upper string){
		"kernel overlay": func(u string) {
			common(u)
			whiteoutDev(u + "/gone")
			setX(u+"/opq", "trusted.overlay.opaque")
		},
		"kernel overlay, userxattr": func(u string) {
			common(u)
			whiteoutDev(u + "/gone")
			setX(u+"/opq", "user.overlay.opaque")
		},
		"fuse-overlayfs with mknod": func(u string) {
			common(u)
			whiteoutDev(u + "/gone")
			fuseOpaque(u+"/opq", true, true)
			fuseOpaque(u+"/newdir", true, true)
		},
		"fuse-overlayfs without mknod": func(u string) {
			common(u)
			writeFile(t, u+"/.wh.gone", "", 0o700)
			fuseOpaque(u+"/opq", true, false)
			fuseOpaque(u+"/newdir", true, false)
		},
		"fuse-overlayfs without xattrs": func(u string) {
			common(u)
			writeFile(t, u+"/.wh.gone", "", 0o700)
			fuseOpaque(u+"/opq", false, false)
		},
	}
	var want []byte
	var wantChanges []Change
	for _, name := range []string{"kernel overlay", "kernel overlay, userxattr", "fuse-overlayfs with mknod", "fuse-overlayfs without mknod", "fuse-overlayfs without xattrs"} {
		upper := t.TempDir()
		forms[name](upper)
		setAllTimes(t, upper)
		var buf bytes.Buffer
		changes, err := Diff(upper, []string{lower}, &buf, DiffOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		order, ents := readTar(t, buf.Bytes())
		if want == nil {
			want, wantChanges = buf.Bytes(), changes
			for _, e := range []string{".wh.gone", "opq/.wh..wh..opq", "d/keep2", "newdir/f"} {
				if _, ok := ents[e]; !ok {
					t.Fatalf("%s: the layer lacks %s: %v", name, e, order)
				}
			}
			continue
		}
		if !bytes.Equal(buf.Bytes(), want) {
			wantOrder, _ := readTar(t, want)
			t.Errorf("%s: the layer differs from the kernel overlay's:\n got  %v\n want %v", name, order, wantOrder)
		}
		if !slices.EqualFunc(changes, wantChanges, func(a, b Change) bool {
			return a.Path == b.Path && a.Kind == b.Kind && a.Opaque == b.Opaque && a.Type == b.Type
		}) {
			t.Errorf("%s: changes differ:\n got  %+v\n want %+v", name, changes, wantChanges)
		}
	}
}

// setAllTimes gives every entry under dir the same atime and mtime
// (children first: a directory's own time last).
func setAllTimes(t *testing.T, dir string) {
	t.Helper()
	var paths []string
	must(t, filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	ts := []unix.Timespec{{Sec: 1600000000}, {Sec: 1600000000}}
	for i := len(paths) - 1; i >= 0; i-- {
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}
