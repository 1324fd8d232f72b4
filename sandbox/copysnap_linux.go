package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/layers/beneath"
)

// The copying snapshotter is the fallback where no overlay can be mounted
// (a user namespace on a kernel before 5.11, a filesystem without user
// xattrs): the run's root is a copy of the union of the lower dirs, bound
// on the rootfs; after the run, what the command changed is written to
// Spec.Upper in overlayfs' own form (changed entries, their parent dirs,
// 0/0 character devices for deletions, the opaque xattr for a directory
// that replaced one), so that everything reading upper dirs works as with
// overlay. It is slower (the whole root is copied, and walked twice) but
// correct. fuse-overlayfs (fuseoverlay_linux.go) comes before it where
// installed. STRATA_SNAPSHOTTER=overlay|fuse-overlayfs|copy chooses (strata
// info shows it).

// Snapshotters (Environment.Snapshotter, SnapshotterEnv).
const (
	SnapshotterOverlay = "overlay"
	SnapshotterCopy    = "copy"
	// SnapshotterEnv names the snapshotter to use: overlay, fuse-overlayfs
	// or copy.
	SnapshotterEnv = "STRATA_SNAPSHOTTER"
)

// snapshotter is the one Run uses: SnapshotterEnv's, else overlay, or in a
// user namespace where an overlay cannot be mounted fuse-overlayfs if it can
// be used, else copy.
var snapshotter = sync.OnceValues(func() (string, error) {
	switch v := os.Getenv(SnapshotterEnv); v {
	case SnapshotterOverlay, SnapshotterCopy, SnapshotterFuse:
		return v, nil
	case "":
	default:
		return "", fmt.Errorf("sandbox: %s=%q: want %s, %s or %s", SnapshotterEnv, v, SnapshotterOverlay, SnapshotterFuse, SnapshotterCopy)
	}
	if InUserNS() && probeOverlay(os.TempDir()) != nil {
		if _, err := fuseOverlayAvailable(); err == nil {
			return SnapshotterFuse, nil
		}
		return SnapshotterCopy, nil
	}
	return SnapshotterOverlay, nil
})

// prepareCopy sets up the copying snapshotter when it is the one: the
// copied root (cfg.Upper from now on) and copies for the overlay mounts.
func prepareCopy(runDir string, cfg *initConfig) (*copySnapshot, error) {
	snap, err := snapshotter()
	if err != nil || snap != SnapshotterCopy {
		return nil, err
	}
	cs, err := newCopySnapshot(filepath.Join(runDir, "merged"), cfg.Lower, cfg.Upper)
	if err != nil {
		return nil, err
	}
	cfg.Upper, cfg.Copy = cs.dir, true
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if m.Type != "overlay" {
			continue
		}
		lower := m.Lower
		if len(lower) == 0 {
			lower = []string{filepath.Join(m.Scratch, "lower")}
		}
		mnt := filepath.Join(m.Scratch, "mnt")
		if err := os.Remove(mnt); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		if err := copyUnion(mnt, lower, filepath.Join(m.Scratch, "upper")); err != nil {
			return nil, fmt.Errorf("sandbox: copy snapshotter: overlay mount on %s: %w", m.Target, err)
		}
		m.Copied = true
	}
	return cs, nil
}

// fileRec is what the copy of an entry was like before the run.
type fileRec struct {
	ino          uint64
	btime        int64 // birth time, where the filesystem has one: tells a new inode of a reused number
	mode         uint32
	uid, gid     uint32
	ctime, mtime int64
	xattrs       string // directories: their xattrs, sorted, for comparison
	dir          bool
}

// copySnapshot is a run's copied root and what it held before the run.
type copySnapshot struct {
	dir string
	rec map[string]fileRec // by path relative to dir ("a/b")
}

// newCopySnapshot copies the union of lowers (top first) into dir, which
// must not exist, with the root of upper, and records it.
func newCopySnapshot(dir string, lowers []string, upper string) (*copySnapshot, error) {
	if err := copyUnion(dir, lowers, upper); err != nil {
		return nil, fmt.Errorf("sandbox: copy snapshotter: %w", err)
	}
	root, err := beneath.Open(dir, beneath.NoSymlinks)
	if err != nil {
		return nil, fmt.Errorf("sandbox: copy snapshotter: %w", err)
	}
	defer root.Close()
	cs := &copySnapshot{dir: dir, rec: map[string]fileRec{}}
	err = walkRoot(root, "", func(rel string, st *unix.Stat_t) error {
		r := fileRec{ino: st.Ino, btime: birth(root, rel), mode: st.Mode, uid: st.Uid, gid: st.Gid, ctime: st.Ctim.Nano(), mtime: st.Mtim.Nano(), dir: st.Mode&unix.S_IFMT == unix.S_IFDIR}
		if r.dir {
			r.xattrs = xattrString(root, rel)
		}
		cs.rec[rel] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: copy snapshotter: %w", err)
	}
	return cs, nil
}

// walkRoot calls fn for every entry below dir of root (not dir itself),
// in lexical order, a directory before its entries; symlinks are not
// followed.
func walkRoot(root *beneath.Root, dir string, fn func(rel string, st *unix.Stat_t) error) error {
	ents, err := root.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		rel := path.Join(dir, e.Name())
		st := statOf(e)
		if err := fn(rel, st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := walkRoot(root, rel, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// statOf is the stat a beneath.Root's FileInfo was made of.
func statOf(fi fs.FileInfo) *unix.Stat_t {
	// unix.Stat_t and syscall.Stat_t are the same kernel struct.
	return (*unix.Stat_t)(unsafe.Pointer(fi.Sys().(*syscall.Stat_t)))
}

// lstat describes name beneath root itself (not followed).
func lstat(root *beneath.Root, name string) (*unix.Stat_t, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return nil, err
	}
	return statOf(fi), nil
}

// layerDir is a directory of one layer: rel beneath its root.
type layerDir struct {
	root *beneath.Root
	rel  string
}

// openRoots opens each of dirs as a NoSymlinks root; close closes them.
func openRoots(dirs []string) (roots []*beneath.Root, close func(), err error) {
	close = func() {
		for _, r := range roots {
			r.Close()
		}
	}
	for _, d := range dirs {
		r, err := beneath.Open(d, beneath.NoSymlinks)
		if err != nil {
			close()
			return nil, nil, err
		}
		roots = append(roots, r)
	}
	return roots, close, nil
}

// copyUnion makes dst the merged view of lowers, as overlayfs shows it: its
// root has the owner, mode and times of upper's (as an overlay's root
// has its upper dir's).
func copyUnion(dst string, lowers []string, upper string) error {
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	droot, err := beneath.Open(dst, beneath.NoSymlinks)
	if err != nil {
		return err
	}
	defer droot.Close()
	roots, closeRoots, err := openRoots(append([]string{upper}, lowers...))
	if err != nil {
		return err
	}
	defer closeRoots()
	srcs := make([]layerDir, len(lowers))
	for i, r := range roots[1:] {
		srcs[i] = layerDir{r, ""}
	}
	c := &copier{dst: droot, links: map[[2]uint64]string{}}
	if err := c.dir("", srcs); err != nil {
		return err
	}
	return copyMeta(roots[0], "", droot, "")
}

type copier struct {
	dst   *beneath.Root
	links map[[2]uint64]string // (dev, ino) of a lower file → its copy
}

// dir fills dst (beneath c.dst) with the entries of srcs (the same
// directory in each layer that shows it, top first).
func (c *copier) dir(dst string, srcs []layerDir) error {
	seen := map[string]bool{}
	for i, src := range srcs {
		ents, err := src.root.ReadDir(src.rel)
		if err != nil {
			return err
		}
		for _, e := range ents {
			name := e.Name()
			if seen[name] {
				continue
			}
			seen[name] = true
			p := path.Join(src.rel, name)
			st := statOf(e)
			if isWhiteoutStat(st) {
				continue
			}
			to := path.Join(dst, name)
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				if err := c.entry(src.root, p, to, st); err != nil {
					return err
				}
				continue
			}
			// The directory as the layers below show it too, down to an
			// opaque one or one hidden by a non-directory.
			subs := []layerDir{{src.root, p}}
			for j := i + 1; j < len(srcs); j++ {
				if last := subs[len(subs)-1]; isOpaque(last.root, last.rel) {
					break
				}
				q := path.Join(srcs[j].rel, name)
				qs, err := lstat(srcs[j].root, q)
				if err != nil {
					continue
				}
				if qs.Mode&unix.S_IFMT != unix.S_IFDIR {
					break
				}
				subs = append(subs, layerDir{srcs[j].root, q})
			}
			if err := c.dst.Mkdir(to, 0o700); err != nil {
				return err
			}
			if err := c.dir(to, subs); err != nil {
				return err
			}
			if err := copyMeta(src.root, p, c.dst, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry copies a non-directory (hard links stay links).
func (c *copier) entry(fr *beneath.Root, from, to string, st *unix.Stat_t) error {
	key := [2]uint64{st.Dev, st.Ino}
	if st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			return c.dst.Link(first, to)
		}
		c.links[key] = to
	}
	return copyEntry(fr, from, c.dst, to, st)
}

// birth is name's birth time (statx), 0 where the filesystem keeps none.
func birth(root *beneath.Root, name string) int64 {
	f, err := root.OpenFile(name, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	var sx unix.Statx_t
	if unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &sx) != nil || sx.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return sx.Btime.Sec*1e9 + int64(sx.Btime.Nsec)
}

func isWhiteoutStat(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// isOpaque says whether the directory name beneath root has overlay's
// opaque xattr.
func isOpaque(root *beneath.Root, name string) bool {
	v, err := root.Lgetxattr(name, rootless.OverlayOpaqueXattr())
	return err == nil && string(v) == "y"
}

// isOpaqueDir is isOpaque of the host path p.
func isOpaqueDir(p string) bool {
	root, err := beneath.Open(filepath.Dir(p), beneath.NoSymlinks)
	if err != nil {
		return false
	}
	defer root.Close()
	return isOpaque(root, filepath.Base(p))
}

func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// copyEntry makes to (beneath tr) a copy of the non-directory from
// (beneath fr): content, owner, mode, xattrs, times.
func copyEntry(fr *beneath.Root, from string, tr *beneath.Root, to string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		in, err := fr.OpenFile(from, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := tr.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		if err := copySparse(out, in, st.Size); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := fr.Readlink(from)
		if err != nil {
			return err
		}
		if err := tr.Symlink(target, to); err != nil {
			return err
		}
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
		if err := tr.Mknod(to, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: unknown file type %#o", fr.Path(from), st.Mode&unix.S_IFMT)
	}
	return copyMeta(fr, from, tr, to)
}

// copyMeta gives to (beneath tr) the owner, mode (after the owner: chown
// clears setuid), xattrs (not overlayfs' own) and times of from (beneath
// fr).
func copyMeta(fr *beneath.Root, from string, tr *beneath.Root, to string) error {
	st, err := lstat(fr, from)
	if err != nil {
		return err
	}
	if err := tr.Lchown(to, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := tr.Chmod(to, fileMode(st.Mode)); err != nil {
			return err
		}
	}
	if err := copyXattrs(fr, from, tr, to); err != nil {
		return err
	}
	return tr.Chtimes(to, time.Unix(st.Atim.Unix()), time.Unix(st.Mtim.Unix()))
}

// fileMode is the permission bits of a stat mode, with setuid, setgid and
// sticky, as an os.FileMode.
func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// copySparse copies size bytes of in to out, the data only: holes stay
// holes (SEEK_DATA/SEEK_HOLE; a filesystem without them has no holes).
func copySparse(out, in *os.File, size int64) error {
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // a hole up to the end
		}
		if err != nil {
			data = off // no SEEK_DATA here: all data
		}
		hole, err := unix.Seek(int(in.Fd()), data, unix.SEEK_HOLE)
		if err != nil || hole > size {
			hole = size
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, hole-data)); err != nil {
			return err
		}
		off = hole
	}
	return out.Truncate(size)
}

// xattrNames are name's xattrs (not overlayfs'), sorted.
func xattrNames(root *beneath.Root, name string) []string {
	all, err := root.Llistxattr(name)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range all {
		if !isOverlayXattr(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func copyXattrs(fr *beneath.Root, from string, tr *beneath.Root, to string) error {
	for _, n := range xattrNames(fr, from) {
		v, err := fr.Lgetxattr(from, n)
		if err != nil {
			continue
		}
		if err := tr.Lsetxattr(to, n, v); err != nil {
			return fmt.Errorf("setxattr %s: %w", n, err)
		}
	}
	return nil
}

// xattrString is name's xattrs (not overlayfs') with their values, sorted.
func xattrString(root *beneath.Root, name string) string {
	var b strings.Builder
	for _, n := range xattrNames(root, name) {
		v, _ := root.Lgetxattr(name, n)
		fmt.Fprintf(&b, "%s=%q;", n, v)
	}
	return b.String()
}

// diffInto writes what the run changed in the copy to upper (empty, on the
// same machine), in overlayfs' form. The command is gone: nothing changes
// the copy any more; every path of the copy and of upper resolves beneath
// it, through no symlink.
func (cs *copySnapshot) diffInto(upper string) error {
	if err := cs.diffIntoErr(upper); err != nil {
		return fmt.Errorf("sandbox: copy snapshotter: what the command changed: %w", err)
	}
	return nil
}

func (cs *copySnapshot) diffIntoErr(upper string) error {
	roots, closeRoots, err := openRoots([]string{cs.dir, upper})
	if err != nil {
		return err
	}
	defer closeRoots()
	d := &copyDiff{cs: cs, copy: roots[0], upper: roots[1], made: map[string]bool{}, links: map[uint64]string{}}
	return d.run()
}

type copyDiff struct {
	cs     *copySnapshot
	copy   *beneath.Root
	upper  *beneath.Root
	made   map[string]bool // dirs created in upper
	order  []string        // the same, in creation order
	opaque map[string]bool
	links  map[uint64]string // inode in the copy → its path in upper
}

func (d *copyDiff) run() error {
	d.opaque = map[string]bool{}
	present := map[string]bool{}
	sameDir := map[string]bool{} // dirs that are the ones of before
	err := walkRoot(d.copy, "", func(rel string, st *unix.Stat_t) error {
		present[rel] = true
		r, existed := d.cs.rec[rel]
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if isDir {
			switch {
			case !existed || !r.dir || r.ino != st.Ino || r.btime != birth(d.copy, rel): // new, or a new dir in place of the old
				if err := d.mkdir(rel); err != nil {
					return err
				}
				if existed {
					d.opaque[rel] = true
				}
			case r.mode != st.Mode || r.uid != st.Uid || r.gid != st.Gid || r.mtime != st.Mtim.Nano() || r.xattrs != xattrString(d.copy, rel):
				sameDir[rel] = true
				if err := d.mkdir(rel); err != nil {
					return err
				}
			default:
				sameDir[rel] = true
			}
			return nil
		}
		if existed && !r.dir && r.ino == st.Ino && r.ctime == st.Ctim.Nano() {
			return nil // untouched
		}
		if err := d.parents(rel); err != nil {
			return err
		}
		if first, ok := d.links[st.Ino]; ok && st.Nlink > 1 {
			return d.upper.Link(first, rel)
		}
		d.links[st.Ino] = rel
		return copyEntry(d.copy, rel, d.upper, rel, st)
	})
	if err != nil {
		return err
	}
	// Deletions: a whiteout where a path is gone whose parent is the
	// same directory as before (not gone itself, not replaced).
	var gone []string
	for rel := range d.cs.rec {
		if !present[rel] {
			gone = append(gone, rel)
		}
	}
	sort.Strings(gone)
	for _, rel := range gone {
		if parent := path.Dir(rel); parent != "." && !sameDir[parent] {
			continue // gone with its dir, or hidden by a new one
		}
		if err := d.parents(rel); err != nil {
			return err
		}
		if err := d.upper.Mknod(rel, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("whiteout: %w", err)
		}
	}
	// The dirs' metadata last, deepest first: entries made in them changed
	// their times.
	for i := len(d.order) - 1; i >= 0; i-- {
		rel := d.order[i]
		if err := copyMeta(d.copy, rel, d.upper, rel); err != nil {
			return err
		}
		if d.opaque[rel] {
			if err := d.upper.Lsetxattr(rel, rootless.OverlayOpaqueXattr(), []byte("y")); err != nil {
				return fmt.Errorf("mark %s opaque: %w", rel, err)
			}
		}
	}
	return nil
}

// parents makes the directories above rel in upper.
func (d *copyDiff) parents(rel string) error {
	parent := path.Dir(rel)
	if parent == "." {
		return nil
	}
	return d.mkdir(parent)
}

// mkdir makes rel (and the dirs above it) in upper, once.
func (d *copyDiff) mkdir(rel string) error {
	if d.made[rel] {
		return nil
	}
	if err := d.parents(rel); err != nil {
		return err
	}
	if err := d.upper.Mkdir(rel, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	d.made[rel] = true
	d.order = append(d.order, rel)
	return nil
}
