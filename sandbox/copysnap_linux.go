package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
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
	cs := &copySnapshot{dir: dir, rec: map[string]fileRec{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		r := fileRec{ino: st.Ino, btime: birth(p), mode: st.Mode, uid: st.Uid, gid: st.Gid, ctime: st.Ctim.Nano(), mtime: st.Mtim.Nano(), dir: d.IsDir()}
		if r.dir {
			r.xattrs = xattrString(p)
		}
		cs.rec[p[len(dir)+1:]] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: copy snapshotter: %w", err)
	}
	return cs, nil
}

// copyUnion makes dst the merged view of lowers, as overlayfs shows it: its
// root has the owner, mode and times of upper's (as an overlay's root
// has its upper dir's).
func copyUnion(dst string, lowers []string, upper string) error {
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	c := &copier{links: map[[2]uint64]string{}}
	if err := c.dir(dst, lowers); err != nil {
		return err
	}
	return copyMeta(upper, dst, true)
}

type copier struct {
	links map[[2]uint64]string // (dev, ino) of a lower file → its copy
}

// dir fills dst with the entries of srcs (the same directory in each layer
// that shows it, top first).
func (c *copier) dir(dst string, srcs []string) error {
	seen := map[string]bool{}
	for i, src := range srcs {
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			name := e.Name()
			if seen[name] {
				continue
			}
			seen[name] = true
			p := filepath.Join(src, name)
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			if isWhiteoutStat(&st) {
				continue
			}
			to := filepath.Join(dst, name)
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				if err := c.entry(p, to, &st); err != nil {
					return err
				}
				continue
			}
			// The directory as the layers below show it too, down to an
			// opaque one or one hidden by a non-directory.
			subs := []string{p}
			for j := i + 1; j < len(srcs) && !isOpaqueDir(subs[len(subs)-1]); j++ {
				q := filepath.Join(srcs[j], name)
				var qs unix.Stat_t
				if unix.Lstat(q, &qs) != nil {
					continue
				}
				if qs.Mode&unix.S_IFMT != unix.S_IFDIR {
					break
				}
				subs = append(subs, q)
			}
			if err := os.Mkdir(to, 0o700); err != nil {
				return err
			}
			if err := c.dir(to, subs); err != nil {
				return err
			}
			if err := copyMeta(p, to, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry copies a non-directory (hard links stay links).
func (c *copier) entry(from, to string, st *unix.Stat_t) error {
	key := [2]uint64{st.Dev, st.Ino}
	if st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			return os.Link(first, to)
		}
		c.links[key] = to
	}
	return copyEntry(from, to, st)
}

// birth is p's birth time (statx), 0 where the filesystem keeps none.
func birth(p string) int64 {
	var sx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &sx) != nil || sx.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return sx.Btime.Sec*1e9 + int64(sx.Btime.Nsec)
}

func isWhiteoutStat(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func isOpaqueDir(p string) bool {
	var b [1]byte
	n, err := unix.Lgetxattr(p, rootless.OverlayOpaqueXattr(), b[:])
	return err == nil && n == 1 && b[0] == 'y'
}

func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// copyEntry makes to a copy of the non-directory from (content, owner,
// mode, xattrs, times).
func copyEntry(from, to string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		in, err := os.OpenFile(from, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
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
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, to); err != nil {
			return err
		}
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
		if err := unix.Mknod(to, st.Mode, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknod", Path: to, Err: err}
		}
	default:
		return fmt.Errorf("%s: unknown file type %#o", from, st.Mode&unix.S_IFMT)
	}
	return copyMeta(from, to, false)
}

// copyMeta gives to the owner, mode (after the owner: chown clears setuid),
// xattrs (not overlayfs' own) and times of from.
func copyMeta(from, to string, dir bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(from, &st); err != nil {
		return err
	}
	if err := unix.Lchown(to, int(st.Uid), int(st.Gid)); err != nil {
		return rootless.OwnerError(&os.PathError{Op: "lchown", Path: to, Err: err}, int(st.Uid), int(st.Gid))
	}
	symlink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !symlink {
		if err := unix.Chmod(to, st.Mode&0o7777); err != nil {
			return &os.PathError{Op: "chmod", Path: to, Err: err}
		}
	}
	if err := copyXattrs(from, to); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, to, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: to, Err: err}
	}
	return nil
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

func xattrNames(p string) []string {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz <= 0 {
		return nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if n != "" && !isOverlayXattr(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func copyXattrs(from, to string) error {
	for _, n := range xattrNames(from) {
		sz, err := unix.Lgetxattr(from, n, nil)
		if err != nil {
			continue
		}
		v := make([]byte, sz)
		if sz, err = unix.Lgetxattr(from, n, v); err != nil {
			continue
		}
		if err := unix.Lsetxattr(to, n, v[:sz], 0); err != nil {
			return fmt.Errorf("setxattr %s on %s: %w", n, to, err)
		}
	}
	return nil
}

// xattrString is p's xattrs (not overlayfs') with their values, sorted.
func xattrString(p string) string {
	var b strings.Builder
	for _, n := range xattrNames(p) {
		sz, _ := unix.Lgetxattr(p, n, nil)
		v := make([]byte, max(sz, 0))
		sz, _ = unix.Lgetxattr(p, n, v)
		fmt.Fprintf(&b, "%s=%q;", n, v[:max(sz, 0)])
	}
	return b.String()
}

// diffInto writes what the run changed in the copy to upper (empty, on the
// same machine), in overlayfs' form. The command is gone: nothing changes
// the copy any more, and no path in it is followed through a symlink.
func (cs *copySnapshot) diffInto(upper string) error {
	d := &copyDiff{cs: cs, upper: upper, made: map[string]bool{}, links: map[uint64]string{}}
	if err := d.run(); err != nil {
		return fmt.Errorf("sandbox: copy snapshotter: what the command changed: %w", err)
	}
	return nil
}

type copyDiff struct {
	cs     *copySnapshot
	upper  string
	made   map[string]bool // dirs created in upper
	order  []string        // the same, in creation order
	opaque map[string]bool
	links  map[uint64]string // inode in the copy → its path in upper
}

func (d *copyDiff) run() error {
	d.opaque = map[string]bool{}
	present := map[string]bool{}
	sameDir := map[string]bool{} // dirs that are the ones of before
	dir := d.cs.dir
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel := p[len(dir)+1:]
		present[rel] = true
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		r, existed := d.cs.rec[rel]
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if isDir {
			switch {
			case !existed || !r.dir || r.ino != st.Ino || r.btime != birth(p): // new, or a new dir in place of the old
				if err := d.mkdir(rel); err != nil {
					return err
				}
				if existed {
					d.opaque[rel] = true
				}
			case r.mode != st.Mode || r.uid != st.Uid || r.gid != st.Gid || r.mtime != st.Mtim.Nano() || r.xattrs != xattrString(p):
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
		to := filepath.Join(d.upper, rel)
		if first, ok := d.links[st.Ino]; ok && st.Nlink > 1 {
			return os.Link(first, to)
		}
		d.links[st.Ino] = to
		return copyEntry(p, to, &st)
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
		if parent := filepath.Dir(rel); parent != "." && !sameDir[parent] {
			continue // gone with its dir, or hidden by a new one
		}
		if err := d.parents(rel); err != nil {
			return err
		}
		if err := unix.Mknod(filepath.Join(d.upper, rel), unix.S_IFCHR, 0); err != nil {
			return &os.PathError{Op: "mknod whiteout", Path: filepath.Join(d.upper, rel), Err: err}
		}
	}
	// The dirs' metadata last, deepest first: entries made in them changed
	// their times.
	for i := len(d.order) - 1; i >= 0; i-- {
		rel := d.order[i]
		if err := copyMeta(filepath.Join(dir, rel), filepath.Join(d.upper, rel), true); err != nil {
			return err
		}
		if d.opaque[rel] {
			if err := unix.Lsetxattr(filepath.Join(d.upper, rel), rootless.OverlayOpaqueXattr(), []byte("y"), 0); err != nil {
				return fmt.Errorf("mark %s opaque: %w", rel, err)
			}
		}
	}
	return nil
}

// parents makes the directories above rel in upper.
func (d *copyDiff) parents(rel string) error {
	parent := filepath.Dir(rel)
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
	if err := os.Mkdir(filepath.Join(d.upper, rel), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	d.made[rel] = true
	d.order = append(d.order, rel)
	return nil
}
