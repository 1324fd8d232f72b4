package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MountError is a failed mount(2) (or related) call, naming everything that
// went into it.
type MountError struct {
	Op     string // "mount", "remount", "mount_setattr", "pivot_root", ...
	Source string
	Target string // as the user knows it (container path or host path)
	FSType string
	Flags  uintptr
	Data   string
	Err    error
}

func (e *MountError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", e.Op)
	if e.FSType != "" {
		fmt.Fprintf(&b, " %s", e.FSType)
	}
	fmt.Fprintf(&b, ": source %q, target %q, flags %s", e.Source, e.Target, flagString(e.Flags))
	if e.Data != "" {
		fmt.Fprintf(&b, ", data %q", e.Data)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *MountError) Unwrap() error { return e.Err }

var flagNames = []struct {
	flag uintptr
	name string
}{
	{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"}, {unix.MS_REMOUNT, "MS_REMOUNT"}, {unix.MS_BIND, "MS_BIND"},
	{unix.MS_REC, "MS_REC"}, {unix.MS_PRIVATE, "MS_PRIVATE"}, {unix.MS_SLAVE, "MS_SLAVE"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME"}, {unix.MS_RELATIME, "MS_RELATIME"},
	{unix.MS_NOATIME, "MS_NOATIME"}, {unix.MS_MOVE, "MS_MOVE"},
}

func flagString(f uintptr) string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for _, n := range flagNames {
		if f&n.flag != 0 {
			parts = append(parts, n.name)
			f &^= n.flag
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", f))
	}
	return strings.Join(parts, "|")
}

// mountAt mounts onto the O_PATH fd target (through its /proc/self/fd magic
// link, so the target is exactly what was resolved inside the root); name is
// the target as reported in errors.
func mountAt(source string, target int, name, fstype string, flags uintptr, data string) error {
	t := "/proc/self/fd/" + strconv.Itoa(target)
	if err := unix.Mount(source, t, fstype, flags, data); err != nil {
		return &MountError{Op: "mount", Source: source, Target: name, FSType: fstype, Flags: flags, Data: data, Err: err}
	}
	return nil
}

// readOnlyAt makes the mount at target read-only, recursively.
func readOnlyAt(target int, name string, extra uint64) error {
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | extra}
	err := unix.MountSetattr(target, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return &MountError{Op: "mount_setattr MOUNT_ATTR_RDONLY|AT_RECURSIVE", Target: name, Err: err}
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	if err := unix.Mount("", "/proc/self/fd/"+strconv.Itoa(target), "", flags, ""); err != nil {
		return &MountError{Op: "remount", Target: name, Flags: flags, Err: err}
	}
	return nil
}

// overlayExtraOptions keeps the upper dir a complete, self-describing diff:
// no redirects or metacopy-only files, no index tying it to one mount.
func overlayExtraOptions() []string {
	var opts []string
	for _, o := range []string{"index", "redirect_dir", "metacopy"} {
		if o == "redirect_dir" && InUserNS() {
			continue // userxattr means nofollow: "off" is refused with it
		}
		if _, err := os.Stat("/sys/module/overlay/parameters/" + o); err == nil {
			opts = append(opts, o+"=off")
		}
	}
	if InUserNS() {
		opts = append(opts, "userxattr") // trusted.* is the host root's
	}
	return opts
}

// mountOverlay mounts the root filesystem overlay on cfg.Rootfs.
func mountOverlay(cfg *initConfig) error {
	if cfg.Mounted {
		return nil // fuse-overlayfs, mounted by Run before the init was cloned
	}
	if cfg.Copy {
		if err := unix.Mount(cfg.Upper, cfg.Rootfs, "", unix.MS_BIND, ""); err != nil {
			return &MountError{Op: "mount", Source: cfg.Upper, Target: cfg.Rootfs, Flags: unix.MS_BIND, Err: err}
		}
		return nil
	}
	return mountOverlayAt(cfg.Rootfs, cfg.Lower, cfg.Upper, cfg.Work)
}

// mountOverlayAt mounts an overlay of lower (top first) with upper and work
// on the host path target.
func mountOverlayAt(target string, lower []string, upper, work string) error {
	for _, p := range append(append([]string{}, lower...), upper, work) {
		if strings.ContainsAny(p, ",:") || !filepath.IsAbs(p) {
			return fmt.Errorf("overlay layer path %q: must be absolute and contain no ',' or ':'", p)
		}
	}
	extra := overlayExtraOptions()
	data := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + upper + ",workdir=" + work
	if len(extra) > 0 {
		data += "," + strings.Join(extra, ",")
	}
	if len(data) < os.Getpagesize()-1 {
		if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
			return userNSOverlayError(&MountError{Op: "mount", Source: "overlay", Target: target, FSType: "overlay", Data: data, Err: err})
		}
		return nil
	}
	// Too many layers for one page of mount options: the new mount API takes
	// them one by one (Linux 6.8+).
	fail := func(op string, err error) error {
		return &MountError{Op: op, Source: "overlay", Target: target, FSType: "overlay", Data: data, Err: err}
	}
	fs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fail("fsopen", err)
	}
	defer unix.Close(fs)
	for _, l := range lower {
		if err := unix.FsconfigSetString(fs, "lowerdir+", l); err != nil {
			return fail("fsconfig lowerdir+ "+l, err)
		}
	}
	set := [][2]string{{"upperdir", upper}, {"workdir", work}}
	for _, o := range extra {
		k, v, _ := strings.Cut(o, "=")
		set = append(set, [2]string{k, v})
	}
	for _, kv := range set {
		if err := unix.FsconfigSetString(fs, kv[0], kv[1]); err != nil {
			return fail("fsconfig "+kv[0], err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return fail("fsconfig create", err)
	}
	mfd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fail("fsmount", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fail("move_mount", err)
	}
	return nil
}

// parseMountOptions splits Mount.Options into mount flags and fs data.
func parseMountOptions(opts []string, flags uintptr) (uintptr, string) {
	var data []string
	for _, o := range opts {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw":
			flags &^= unix.MS_RDONLY
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "suid":
			flags &^= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "dev":
			flags &^= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "noatime":
			flags |= unix.MS_NOATIME
		case "relatime":
			flags |= unix.MS_RELATIME
		case "strictatime":
			flags |= unix.MS_STRICTATIME
		case "bind", "rbind", "rprivate", "private":
			// binds are always recursive and private here
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

// Docker's default masked and read-only paths.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// setupRootfs mounts everything below the overlay root: /proc, /dev, /sys,
// the /etc files and the user's mounts.
func setupRootfs(cfg *initConfig, r *rootfs) error {
	mountOn := func(p string, dir bool, source, fstype string, flags uintptr, data string) (int, error) {
		fd, cp, err := r.mountPoint(p, dir)
		if err != nil {
			return -1, err
		}
		if err := mountAt(source, fd, cp, fstype, flags, data); err != nil {
			unix.Close(fd)
			return -1, err
		}
		// Reopen: the fd points to the directory under the new mount.
		unix.Close(fd)
		return r.resolve(cp, unix.O_NOFOLLOW)
	}
	closeMount := func(fd int, err error) error {
		if err == nil {
			unix.Close(fd)
		}
		return err
	}

	// /proc
	if err := closeMount(mountOn("/proc", true, "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")); err != nil {
		return err
	}
	// /dev: filled through the descriptor of the mount, wherever an image's
	// /dev symlink made it land inside the root.
	devfd, err := mountOn("/dev", true, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k")
	if err != nil {
		return err
	}
	err = setupDev(devfd)
	unix.Close(devfd)
	if err != nil {
		return err
	}
	// /sys: sysfs read-only; if the kernel refuses (network namespace not ours),
	// a read-only recursive bind of the host's.
	sysFlags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if fd, err := mountOn("/sys", true, "sysfs", "sysfs", sysFlags, ""); err == nil {
		unix.Close(fd)
	} else if errors.Is(err, unix.EPERM) {
		fd, err := mountOn("/sys", true, "/sys", "", unix.MS_BIND|unix.MS_REC, "")
		if err != nil {
			return err
		}
		err = readOnlyAt(fd, "/sys", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		unix.Close(fd)
		if err != nil {
			return err
		}
	} else {
		return err
	}

	// /etc/hosts, /etc/hostname, /etc/resolv.conf
	for _, f := range cfg.EtcFiles {
		fd, err := mountOn(f.Target, false, f.Source, "", unix.MS_BIND, "")
		if err != nil {
			return err
		}
		if f.ReadOnly {
			err = readOnlyAt(fd, f.Target, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		}
		unix.Close(fd)
		if err != nil {
			return err
		}
	}

	// The user's mounts, parents before children.
	mounts := append([]initMount(nil), cfg.Mounts...)
	sort.SliceStable(mounts, func(i, j int) bool {
		return strings.Count(clean(mounts[i].Target), "/") < strings.Count(clean(mounts[j].Target), "/")
	})
	for _, m := range mounts {
		if err := userMount(r, m, mountOn); err != nil {
			return err
		}
	}

	// Masked and read-only paths (after the user's mounts, like runc).
	for _, p := range maskedPaths {
		if err := maskPath(r, p); err != nil {
			return err
		}
	}
	for _, p := range readonlyPaths {
		fd, err := r.resolve(p, unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "open", Path: p, Err: err}
		}
		// Bind the resolved path onto itself: its host path (root + p)
		// would follow an image's absolute symlink onto the host.
		err = mountAt(fdPath(fd), fd, p, "", unix.MS_BIND|unix.MS_REC, "")
		unix.Close(fd)
		if err != nil {
			return err
		}
		fd, err = r.resolve(p, unix.O_NOFOLLOW)
		if err != nil {
			return &os.PathError{Op: "open", Path: p, Err: err}
		}
		err = readOnlyAt(fd, p, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

type mountFunc func(p string, dir bool, source, fstype string, flags uintptr, data string) (int, error)

func userMount(r *rootfs, m initMount, mountOn mountFunc) error {
	if !strings.HasPrefix(m.Target, "/") {
		return fmt.Errorf("mount %s %q: target must be an absolute path", m.Type, m.Target)
	}
	switch m.Type {
	case "tmpfs":
		flags, data := parseMountOptions(m.Options, unix.MS_NOSUID|unix.MS_NODEV)
		if m.ReadOnly {
			flags |= unix.MS_RDONLY
		}
		fd, err := mountOn(m.Target, true, "tmpfs", "tmpfs", flags, data)
		if err == nil {
			unix.Close(fd)
		}
		return err
	case "bind", "":
		var st unix.Stat_t
		if err := unix.Stat(m.Source, &st); err != nil {
			return &MountError{Op: "mount", Source: m.Source, Target: m.Target, Flags: unix.MS_BIND | unix.MS_REC, Err: err}
		}
		fd, err := mountOn(m.Target, st.Mode&unix.S_IFMT == unix.S_IFDIR, m.Source, "", unix.MS_BIND|unix.MS_REC, "")
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return bindAttrs(fd, m.Mount)
	case "overlay":
		return overlayMount(m, mountOn)
	default:
		return fmt.Errorf("mount %q on %s: unknown type (want bind, tmpfs or overlay)", m.Type, m.Target)
	}
}

// bindAttrs applies a bind mount's read-only and nosuid/nodev/noexec
// options to the mount at fd.
func bindAttrs(fd int, m Mount) error {
	flags, _ := parseMountOptions(m.Options, 0)
	if m.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	var attr uint64
	if flags&unix.MS_NOSUID != 0 {
		attr |= unix.MOUNT_ATTR_NOSUID
	}
	if flags&unix.MS_NODEV != 0 {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if flags&unix.MS_NOEXEC != 0 {
		attr |= unix.MOUNT_ATTR_NOEXEC
	}
	if flags&unix.MS_RDONLY != 0 {
		return readOnlyAt(fd, m.Target, attr)
	}
	if attr != 0 {
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr}); err != nil {
			return &MountError{Op: "mount_setattr", Source: m.Source, Target: m.Target, Err: err}
		}
	}
	return nil
}

// overlayMount mounts an overlay of m.Lower on its scratch mnt dir (in this
// mount namespace only; it goes away with the old root at pivot_root), then
// binds m.Source of it, resolved inside the overlay, on the target. The
// upper dir takes what the command writes and is removed with the run dir.
func overlayMount(m initMount, mountOn mountFunc) error {
	if m.Scratch == "" {
		return fmt.Errorf("overlay mount on %s: no scratch dir prepared", m.Target)
	}
	lower := m.Lower
	if len(lower) == 0 {
		lower = []string{filepath.Join(m.Scratch, "lower")}
	}
	mnt := filepath.Join(m.Scratch, "mnt")
	if m.Copied {
		// the copying snapshotter: mnt holds a copy of the lower dirs
	} else if err := mountOverlayAt(mnt, lower, filepath.Join(m.Scratch, "upper"), filepath.Join(m.Scratch, "work")); err != nil {
		return fmt.Errorf("overlay mount on %s: %w", m.Target, err)
	}
	root, err := unix.Open(mnt, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open overlay", Path: mnt, Err: err}
	}
	defer unix.Close(root)
	rel := strings.TrimPrefix(clean(m.Source), "/")
	if rel == "" {
		rel = "."
	}
	src, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   uint64(unix.O_PATH | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("overlay mount on %s: source %s: %w", m.Target, clean(m.Source), err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("overlay mount on %s: source %s: %w", m.Target, clean(m.Source), err)
	}
	fd, err := mountOn(m.Target, st.Mode&unix.S_IFMT == unix.S_IFDIR, "/proc/self/fd/"+strconv.Itoa(src), "", unix.MS_BIND|unix.MS_REC, "")
	if err != nil {
		return fmt.Errorf("overlay mount of %s on %s: %w", clean(m.Source), m.Target, err)
	}
	defer unix.Close(fd)
	return bindAttrs(fd, m.Mount)
}

func maskPath(r *rootfs, p string) error {
	fd, err := r.resolve(p, unix.O_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return mountAt("tmpfs", fd, p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
	}
	// The /dev/null setupDev made, resolved inside the root as the
	// container will see it.
	null, err := r.resolve("/dev/null", unix.O_NOFOLLOW)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/dev/null", Err: err}
	}
	defer unix.Close(null)
	if err := unix.Fstat(null, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fmt.Errorf("mask %s: /dev/null is not the character device the sandbox made", p)
	}
	return mountAt(fdPath(null), fd, p, "", unix.MS_BIND, "")
}

// fdPath names what the descriptor fd refers to, for mount(2)'s source.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

type devNode struct {
	name         string
	major, minor uint32
}

var devNodes = []devNode{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// setupDev fills the fresh /dev tmpfs, given as the descriptor dev of its
// mount. Nothing here is in the overlay. Every name is made relative to
// dev: the image's /dev may be a symlink to an absolute path, which the
// host path of the root would follow onto the host.
func setupDev(dev int) error {
	at := func(name string) string { return fdPath(dev) + "/" + name }
	for _, n := range devNodes {
		err := unix.Mknodat(dev, n.name, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor)))
		if errors.Is(err, unix.EPERM) {
			// No CAP_MKNOD (nested container): bind the host's node.
			if fd, cerr := unix.Openat(dev, n.name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666); cerr == nil {
				unix.Close(fd)
			}
			if err = unix.Mount("/dev/"+n.name, at(n.name), "", unix.MS_BIND, ""); err != nil {
				return &MountError{Op: "mount", Source: "/dev/" + n.name, Target: "/dev/" + n.name, Flags: unix.MS_BIND, Err: err}
			}
			continue
		}
		if err != nil {
			return &os.PathError{Op: "mknod", Path: "/dev/" + n.name, Err: err}
		}
		if err := unix.Fchmodat(dev, n.name, 0o666, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: "/dev/" + n.name, Err: err}
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := unix.Mkdirat(dev, d, 0o755); err != nil {
			return &os.PathError{Op: "mkdir", Path: "/dev/" + d, Err: err}
		}
	}
	mounts := []struct {
		source, target, fstype string
		flags                  uintptr
		data                   string
	}{
		{"devpts", "pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"shm", "shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "mode=1777,size=65536k"},
		{"mqueue", "mqueue", "mqueue", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	}
	for _, m := range mounts {
		err := unix.Mount(m.source, at(m.target), m.fstype, m.flags, m.data)
		if errors.Is(err, unix.EINVAL) && m.fstype == "devpts" && InUserNS() {
			// A user namespace without gid 5 (rootless, no subgid range).
			m.data = strings.TrimSuffix(m.data, ",gid=5")
			err = unix.Mount(m.source, at(m.target), m.fstype, m.flags, m.data)
		}
		if err != nil {
			return &MountError{Op: "mount", Source: m.source, Target: "/dev/" + m.target, FSType: m.fstype, Flags: m.flags, Data: m.data, Err: err}
		}
	}
	links := [][2]string{
		{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
	}
	// Like runc: /dev/core only where the kernel has /proc/kcore
	// (CONFIG_PROC_KCORE), not a dangling link.
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], dev, l[1]); err != nil {
			return &os.PathError{Op: "symlink", Path: "/dev/" + l[1], Err: err}
		}
	}
	return nil
}

// pivotRoot makes the mounted rootfs the root and detaches the old one.
func pivotRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return &os.PathError{Op: "chdir", Path: rootfs, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &MountError{Op: "pivot_root", Source: ".", Target: rootfs, Err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &MountError{Op: "umount2 MNT_DETACH", Target: "old root", Err: err}
	}
	return unix.Chdir("/")
}
