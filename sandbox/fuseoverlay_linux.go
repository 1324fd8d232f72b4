package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/layers/beneath"
)

// The fuse-overlayfs snapshotter is the fallback where the kernel refuses
// an overlay in the user namespace (before Linux 5.11, or no user xattrs on
// the state folder's filesystem) but fuse-overlayfs is installed and
// /dev/fuse can be opened (udev makes it 0666 on Debian): the run's root
// is a fuse-overlayfs mount of the same lower, upper and work dirs.
//
// The daemon is started by Run, not by the container's init: mounted from
// the init, it would be a process of the container (seen by ps, killed by
// the command's kill -9 -1, counted in --pids-limit) and pivot_root would
// move its root onto its own mount. Run mounts on the rootfs dir in its
// own mount namespace (a rootless strata's private one) before the init is
// cloned, so the init's new mount namespace holds a copy of the mount and
// pivots into it exactly as into the kernel overlay; once the container
// has ended, Run unmounts it and waits for the daemon to exit. The upper
// dir it leaves has fuse-overlayfs' forms of whiteouts (layers.Diff reads
// them: 0/0 devices or .wh.NAME files, user.fuseoverlayfs.opaque and
// .wh..wh..opq markers).

// SnapshotterFuse is fuse-overlayfs (Environment.Snapshotter, SnapshotterEnv).
const SnapshotterFuse = "fuse-overlayfs"

// fuseSuperMagic is statfs' f_type of a FUSE mount.
const fuseSuperMagic = 0x65735546

// fuseOverlayAvailable says whether fuse-overlayfs can be used here: the
// binary is found and /dev/fuse can be opened for reading and writing.
func fuseOverlayAvailable() (string, error) {
	p, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		return "", errors.New("fuse-overlayfs is not installed (apt-get install fuse-overlayfs)")
	}
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("/dev/fuse cannot be opened (%v): it must be mode 0666, as udev sets it (chmod 0666 /dev/fuse)", err)
	}
	unix.Close(fd)
	return p, nil
}

// fuseMount is a running fuse-overlayfs and where it is mounted.
type fuseMount struct {
	target string
	cmd    *exec.Cmd
	done   chan struct{} // closed when the daemon has exited
	stderr *bytes.Buffer
	err    error // from Wait, once done
}

// mountFuseOverlay mounts fuse-overlayfs of lower (top first), upper and
// work on target and returns once the mount is there.
func mountFuseOverlay(bin, target string, lower []string, upper, work string) (*fuseMount, error) {
	for _, p := range append(append([]string{}, lower...), upper, work, target) {
		if strings.ContainsAny(p, ",:") || !filepath.IsAbs(p) {
			return nil, fmt.Errorf("sandbox: fuse-overlayfs layer path %q: must be absolute and contain no ',' or ':'", p)
		}
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + upper + ",workdir=" + work
	if !InUserNS() {
		// As root, device nodes work as on the kernel overlay (fuse
		// mounts are nodev by default); a user namespace's never do.
		opts = "dev," + opts
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-f", "-o", opts, target)
	cmd.Stderr = &stderr
	// Its own process group (a terminal's ^C is strata's to handle), and
	// killed with strata.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sandbox: start fuse-overlayfs: %w", err)
	}
	fm := &fuseMount{target: target, cmd: cmd, done: make(chan struct{}), stderr: &stderr}
	go func() {
		fm.err = cmd.Wait()
		close(fm.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for delay := 200 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		var sfs unix.Statfs_t
		if err := unix.Statfs(target, &sfs); err == nil && sfs.Type == fuseSuperMagic {
			return fm, nil
		}
		select {
		case <-fm.done:
			return nil, fmt.Errorf("sandbox: fuse-overlayfs -o %s %s exited before mounting (%v): %s", opts, target, fm.err, strings.TrimSpace(stderr.String()))
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			fm.unmount()
			return nil, fmt.Errorf("sandbox: fuse-overlayfs -o %s %s did not mount within 10s: %s", opts, target, strings.TrimSpace(stderr.String()))
		}
	}
}

// unmount unmounts the fuse-overlayfs mount and waits for its daemon to
// exit (killing it after 10 seconds). It may be called more than once.
func (fm *fuseMount) unmount() error {
	if fm == nil {
		return nil
	}
	select {
	case <-fm.done:
		_ = unix.Unmount(fm.target, unix.MNT_DETACH) // a daemon that died leaves the mount
		return nil
	default:
	}
	err := unix.Unmount(fm.target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(fm.target, unix.MNT_DETACH)
	}
	if err != nil {
		err = &MountError{Op: "umount2", Source: "fuse-overlayfs", Target: fm.target, Err: err}
		// fusermount3 -u: a mount that is the user's (not ours to umount2).
		if out, ferr := exec.Command("fusermount3", "-u", "-z", fm.target).CombinedOutput(); ferr == nil {
			err = nil
		} else {
			err = fmt.Errorf("%w; fusermount3 -u: %v %s", err, ferr, strings.TrimSpace(string(out)))
		}
	}
	select {
	case <-fm.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(fm.cmd.Process.Pid, syscall.SIGKILL)
		<-fm.done
		if err == nil {
			err = errors.New("sandbox: fuse-overlayfs did not exit within 10s of its unmount: killed")
		}
	}
	return err
}

// fuseMounts are the fuse-overlayfs mounts of one run: the root and the
// overlay mounts'.
type fuseMounts []*fuseMount

// unmount unmounts them all, the overlay mounts first, and returns the
// first error.
func (fs *fuseMounts) unmount() error {
	if fs == nil {
		return nil
	}
	var first error
	for i := len(*fs) - 1; i >= 0; i-- {
		if err := (*fs)[i].unmount(); err != nil && first == nil {
			first = err
		}
	}
	*fs = nil
	return first
}

// prepareFuse mounts the run's root and its overlay mounts with
// fuse-overlayfs when that is the snapshotter (none otherwise).
func prepareFuse(cfg *initConfig) (*fuseMounts, error) {
	snap, err := snapshotter()
	if err != nil || snap != SnapshotterFuse {
		return nil, err
	}
	bin, err := fuseOverlayAvailable()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s=%s: %w", SnapshotterEnv, SnapshotterFuse, err)
	}
	fms := &fuseMounts{}
	fm, err := mountFuseOverlay(bin, cfg.Rootfs, cfg.Lower, cfg.Upper, cfg.Work)
	if err != nil {
		return nil, err
	}
	*fms = append(*fms, fm)
	cfg.Mounted = true
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if m.Type != "overlay" {
			continue
		}
		lower := m.Lower
		if len(lower) == 0 {
			lower = []string{filepath.Join(m.Scratch, "lower")}
		}
		fm, err := mountFuseOverlay(bin, filepath.Join(m.Scratch, "mnt"), lower, filepath.Join(m.Scratch, "upper"), filepath.Join(m.Scratch, "work"))
		if err != nil {
			_ = fms.unmount()
			return nil, fmt.Errorf("overlay mount on %s: %w", m.Target, err)
		}
		*fms = append(*fms, fm)
		m.Copied = true
	}
	return fms, nil
}

// Copy-up and directory times. The kernel overlay restores a directory's
// times after it copied something up into it (the merged directory's
// entries did not change); fuse-overlayfs does not (containers/
// fuse-overlayfs#400), so every directory on the way to a file a RUN wrote
// would get the time of the run, and the layer would differ from the kernel
// overlay's. fixCopyUpTimes undoes that after the run: a directory of the
// upper dir that was there before the run (in the lowers, or the upper
// dir's root) and holds only copies up of what the lowers have there (no
// new name, no whiteout, not opaque), whose mtime is its ctime and of the
// run (nothing set its times afterwards), gets its times from before the
// run back. What it cannot mend (the kernel's time is lost by then): a RUN
// that set a directory's times (touch -d X DIR, as find -exec touch does
// on a tree, parents first) before something was copied up into it, or
// made a new entry in it before a copy-up into it (fuse-overlayfs' time is
// the copy-up's, the kernel's X or the entry's). And it mends wrongly a
// directory holding only copies up that the run set to the present moment
// (touch DIR: back to its time before the run), or in which it removed and
// made again a name of the lowers (taken for a copy-up).

// dirTimes are a directory's atime and mtime.
type dirTimes struct{ atime, mtime unix.Timespec }

// upperRootTimes records the upper dir's root before the run.
func upperRootTimes(upper string) (dirTimes, error) {
	var st unix.Stat_t
	if err := unix.Lstat(upper, &st); err != nil {
		return dirTimes{}, err
	}
	return dirTimes{st.Atim, st.Mtim}, nil
}

// fixCopyUpTimes restores the times of the directories of upper (over
// lowers, top first) that only fuse-overlayfs' copies up changed, for a
// run that started at start; root is the upper root's times before it.
// Every path resolves beneath its layer or upper dir, through no symlink.
func fixCopyUpTimes(upper string, lowers []string, root dirTimes, start time.Time) error {
	roots, closeRoots, err := openRoots(append([]string{upper}, lowers...))
	if err != nil {
		return err
	}
	defer closeRoots()
	return fixDirTimes(roots[0], "", roots[1:], root, start.Unix())
}

func fixDirTimes(upper *beneath.Root, rel string, lowers []*beneath.Root, before dirTimes, start int64) error {
	ents, err := upper.ReadDir(rel)
	if err != nil {
		return err
	}
	onlyCopiesUp := true
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".wh.") {
			onlyCopiesUp = false // a whiteout or opaque marker
			continue
		}
		st := statOf(e)
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			onlyCopiesUp = false
			continue
		}
		p := path.Join(rel, name)
		lst, inLower := lowerLookup(lowers, p)
		if !inLower || lst.Mode&unix.S_IFMT != st.Mode&unix.S_IFMT {
			onlyCopiesUp = false
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || !inLower || lst.Mode&unix.S_IFMT != unix.S_IFDIR || dirOpaque(upper, p) {
			continue // a new directory: its times are the run's
		}
		if err := fixDirTimes(upper, p, lowers, dirTimes{lst.Atim, lst.Mtim}, start); err != nil {
			return err
		}
	}
	st, err := lstat(upper, rel)
	if err != nil {
		return err
	}
	if st.Mtim != st.Ctim || st.Mtim.Sec < start {
		return nil // times set after the last change, or not of the run
	}
	if !onlyCopiesUp {
		return nil // the run changed its entries: the time is the run's
	}
	return upper.Chtimes(rel, time.Unix(before.atime.Unix()), time.Unix(before.mtime.Unix()))
}

// lowerLookup finds rel in lowers (top first) as overlayfs shows it: the
// topmost layer that has it decides, a 0/0 device there hides it, and an
// opaque directory hides the layers below.
func lowerLookup(lowers []*beneath.Root, rel string) (unix.Stat_t, bool) {
	dir := path.Dir(rel)
	for _, l := range lowers {
		if st, err := lstat(l, rel); err == nil {
			return *st, !(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0)
		}
		if dir != "." && dirOpaque(l, dir) {
			break
		}
	}
	return unix.Stat_t{}, false
}

// dirOpaque reports an opaque directory in any of the forms overlayfs and
// fuse-overlayfs write.
func dirOpaque(root *beneath.Root, name string) bool {
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque", "user.fuseoverlayfs.opaque"} {
		if v, err := root.Lgetxattr(name, x); err == nil && string(v) == "y" {
			return true
		}
	}
	_, err := root.Lstat(path.Join(name, ".wh..wh..opq"))
	return err == nil
}

// normalizeUpper turns what fuse-overlayfs left in the upper dir into the
// kernel overlay's form, for everything that reads upper dirs (layers.Diff,
// the views and shells of a failed RUN's partial result, mount point
// stubs): a ".wh.NAME" file becomes a 0/0 device NAME (where it may be
// made; layers.Diff reads both), the opaque markers of a directory
// (".wh..wh..opq", ".wh..opq", user.fuseoverlayfs.opaque) go, and one that
// hides a directory of the lowers gets overlay's opaque xattr instead (a
// new one needs none). Directory times are kept. Every path resolves
// beneath its layer or upper dir, through no symlink.
func normalizeUpper(upper string, lowers []string) error {
	roots, closeRoots, err := openRoots(append([]string{upper}, lowers...))
	if err != nil {
		return err
	}
	defer closeRoots()
	return normalizeDir(roots[0], "", roots[1:])
}

func normalizeDir(upper *beneath.Root, rel string, lowers []*beneath.Root) error {
	dst, err := lstat(upper, rel)
	if err != nil {
		return err
	}
	ents, err := upper.ReadDir(rel)
	if err != nil {
		return err
	}
	changed := false
	opaque := false
	for _, e := range ents {
		name := e.Name()
		p := path.Join(rel, name)
		switch {
		case name == ".wh..wh..opq" || name == ".wh..opq":
			opaque = true
			if err := upper.Remove(p); err != nil {
				return err
			}
			changed = true
		case strings.HasPrefix(name, ".wh."):
			target := path.Join(rel, strings.TrimPrefix(name, ".wh."))
			wst := statOf(e)
			if _, err := upper.Lstat(target); err == nil {
				continue // made again over the whiteout: leave both to Diff
			}
			if err := upper.Mknod(target, unix.S_IFCHR, 0); err != nil {
				if errors.Is(err, beneath.ErrSymlink) || errors.Is(err, beneath.ErrOutside) {
					return err
				}
				continue // no 0/0 device here: Diff reads .wh.NAME
			}
			_ = upper.Chtimes(target, time.Unix(wst.Atim.Unix()), time.Unix(wst.Mtim.Unix()))
			if err := upper.Remove(p); err != nil {
				return err
			}
			changed = true
		case e.IsDir():
			if err := normalizeDir(upper, p, lowers); err != nil {
				return err
			}
		}
	}
	if v, err := upper.Lgetxattr(rel, "user.fuseoverlayfs.opaque"); err == nil {
		opaque = opaque || string(v) == "y"
		if err := upper.Lremovexattr(rel, "user.fuseoverlayfs.opaque"); err != nil {
			return err
		}
	}
	if opaque && rel != "" {
		if lst, ok := lowerLookup(lowers, rel); ok && lst.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := upper.Lsetxattr(rel, rootless.OverlayOpaqueXattr(), []byte("y")); err != nil {
				return fmt.Errorf("mark %s opaque: %w", rel, err)
			}
		}
	}
	if changed {
		return upper.Chtimes(rel, time.Unix(dst.Atim.Unix()), time.Unix(dst.Mtim.Unix()))
	}
	return nil
}
