package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// In a user namespace (a rootless strata, package internal/rootless) the
// sandbox is root of the namespace only: overlay stores its whiteouts and
// opaque markers in user.overlay.* xattrs (mount option userxattr, Linux
// 5.11+), the device rules need no cgroup (no device node can be created
// there, and those bound from the host are the only ones a container gets),
// and limits need a cgroup v2 subtree delegated to the user.

// InUserNS reports whether this process runs in a user namespace other than
// the host's: overlay mounts then need the userxattr option and limits a
// delegated cgroup v2 subtree.
func InUserNS() bool { return rootless.InUserNS() }

// errNoDelegation is a refused limit: no cgroup v2 subtree of the user's.
type errNoDelegation struct {
	flag, why string
}

func (e *errNoDelegation) Error() string {
	verb := "needs"
	if strings.Contains(e.flag, " and ") {
		verb = "need"
	}
	return fmt.Sprintf("%s %s a cgroup v2 subtree delegated to the user when strata runs without root, and %s; run strata in a delegated scope (systemd: systemd-run --user --scope -p Delegate=yes strata ..., on a machine booted with cgroup v2), run strata as root, or leave %s out", e.flag, verb, e.why, e.flag)
}

// delegatedCgroup returns the caller's own cgroup v2 directory when it is
// delegated to us (we may create cgroups in it and move processes) with the
// controllers the limits need, else an *errNoDelegation naming flag.
func delegatedCgroup(memory, pids int64) (string, error) {
	var want []string
	var flags []string
	if memory > 0 {
		want = append(want, "memory")
		flags = append(flags, "--memory")
	}
	if pids > 0 {
		want = append(want, "pids")
		flags = append(flags, "--pids-limit")
	}
	flag := strings.Join(flags, " and ")
	refuse := func(format string, a ...any) (string, error) {
		return "", &errNoDelegation{flag: flag, why: fmt.Sprintf(format, a...)}
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return refuse("the cgroup mounts cannot be read (%v)", err)
	}
	own, err := ownCgroups()
	if err != nil {
		return refuse("/proc/self/cgroup cannot be read (%v)", err)
	}
	var v2 *cgroupMount
	for i := range mounts {
		if mounts[i].v2 && v2 == nil {
			v2 = &mounts[i]
		}
	}
	if v2 == nil {
		return refuse("this machine has cgroup v1 only")
	}
	dir := filepath.Join(v2.mountpoint, strings.TrimPrefix(own[""], v2.root))
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return refuse("the own cgroup %s cannot be read (%v)", dir, err)
	}
	have := strings.Fields(string(b))
	for _, c := range want {
		if !contains(have, c) {
			if v2.mountpoint != "/sys/fs/cgroup" {
				return refuse("this machine has cgroup v1 with the %s controller on its v1 hierarchy (cgroup2 only at %s, without it)", c, v2.mountpoint)
			}
			return refuse("the %s controller is not delegated to the cgroup %s", c, dir)
		}
	}
	if err := unix.Access(filepath.Join(dir, "cgroup.procs"), unix.W_OK); err != nil {
		return refuse("the own cgroup %s is not the user's (%v)", dir, err)
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return refuse("the own cgroup %s is not the user's (%v)", dir, err)
	}
	return dir, nil
}

// newUserNSCgroup is newCgroup in a user namespace: no cgroup without
// limits; with limits, one in the delegated subtree, or the refusal.
func newUserNSCgroup(id string, memory, pids int64) (*cgroup, error) {
	if memory <= 0 && pids <= 0 {
		return &cgroup{}, nil
	}
	parent, err := delegatedCgroup(memory, pids)
	if err != nil {
		return nil, err
	}
	b, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	enabled := strings.Fields(string(b))
	for c, v := range map[string]int64{"memory": memory, "pids": pids} {
		if v > 0 && !contains(enabled, c) {
			if err := writeCgroupFile(parent, "cgroup.subtree_control", "+"+c); err != nil {
				return nil, fmt.Errorf("%w (the delegated cgroup must be a leaf's parent: run strata in a scope of its own)", err)
			}
		}
	}
	dir := filepath.Join(parent, cgroupName(id))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	cg := &cgroup{dirs: []string{dir}, pidsDir: dir}
	if memory > 0 {
		if err := writeCgroupFile(dir, "memory.max", strconv.FormatInt(memory, 10)); err != nil {
			cg.remove()
			return nil, err
		}
		_ = writeCgroupFile(dir, "memory.swap.max", "0")
		cg.memoryDir = dir
	}
	return cg, nil
}

// CheckLimits says before a build or run starts whether the memory and pids
// limits can be had here (only a rootless strata may be refused them).
func CheckLimits(memory, pids int64) error {
	if !InUserNS() || (memory <= 0 && pids <= 0) {
		return nil
	}
	_, err := delegatedCgroup(memory, pids)
	return err
}

// IsNoDelegation reports whether err is a limit refused for want of a
// delegated cgroup.
func IsNoDelegation(err error) bool {
	var e *errNoDelegation
	return errors.As(err, &e)
}

// setgroupsDenied reports whether e, from setgroups(2), is a user namespace
// whose setgroups is "deny" (a rootless strata without a subgid range: only
// gid 0 exists there): the groups stay as they are, the only thing such a
// namespace allows.
func setgroupsDenied(e error) bool {
	if !errors.Is(e, unix.EPERM) || !InUserNS() {
		return false
	}
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// Environment is what the sandbox found on this machine, for strata info.
type Environment struct {
	UserNS      bool   `json:"userNamespace"` // running in a user namespace (rootless)
	Snapshotter string `json:"snapshotter"`   // "overlay", "overlay+userxattr", "fuse-overlayfs", "copy" or "none"
	// SnapshotterError is why no overlay could be mounted (or why
	// fuse-overlayfs or copy, and why not the ones before it).
	SnapshotterError string `json:"snapshotterError,omitempty"`
	Cgroup           string `json:"cgroup"` // "v2", "v1" or "hybrid"
	// Limits says whether --memory and --pids-limit can be had, and why.
	Limits    bool   `json:"limits"`
	LimitsWhy string `json:"limitsWhy"`
	Seccomp   string `json:"seccomp"`
	// Network is the default network's helper (slirp4netns) and whether
	// it can work here.
	Network string `json:"network"`
}

// Probe finds out what a container gets here: it mounts a scratch overlay
// in a directory it makes (and removes) in tmp, the way the sandbox will.
func Probe(tmp string) Environment {
	env := Environment{UserNS: InUserNS(), Snapshotter: "none"}
	snap, err := snapshotter()
	switch {
	case err != nil:
		env.SnapshotterError = err.Error()
	case snap == SnapshotterCopy:
		env.Snapshotter = "copy"
		if err := probeOverlay(tmp); err != nil {
			env.SnapshotterError = "no overlay here: " + err.Error()
			if _, ferr := fuseOverlayAvailable(); ferr != nil {
				env.SnapshotterError += "; no fuse-overlayfs: " + ferr.Error()
			} else if os.Getenv(SnapshotterEnv) == SnapshotterCopy {
				env.SnapshotterError += "; chosen by " + SnapshotterEnv + " over fuse-overlayfs"
			}
		} else {
			env.SnapshotterError = "chosen by " + SnapshotterEnv
		}
	case snap == SnapshotterFuse:
		if _, err := fuseOverlayAvailable(); err != nil {
			env.SnapshotterError = SnapshotterEnv + "=" + SnapshotterFuse + ", but " + err.Error()
		} else if err := probeOverlay(tmp); err != nil {
			env.Snapshotter = SnapshotterFuse
			env.SnapshotterError = "no overlay here: " + err.Error()
		} else {
			env.Snapshotter = SnapshotterFuse
			env.SnapshotterError = "chosen by " + SnapshotterEnv
		}
	default:
		if err := probeOverlay(tmp); err != nil {
			env.SnapshotterError = err.Error()
		} else if env.UserNS {
			env.Snapshotter = "overlay+userxattr"
		} else {
			env.Snapshotter = "overlay"
		}
	}
	env.Cgroup = "v1"
	if cgroupV2() {
		env.Cgroup = "v2"
	} else if ms, err := cgroupMounts(); err == nil {
		for _, m := range ms {
			if m.v2 {
				env.Cgroup = "hybrid (v1 controllers, cgroup2 at " + m.mountpoint + ")"
			}
		}
	}
	if env.UserNS {
		dir, err := delegatedCgroup(1, 1)
		if err != nil {
			env.LimitsWhy = err.Error()
		} else {
			env.Limits, env.LimitsWhy = true, "delegated cgroup v2 subtree "+dir
		}
	} else {
		env.Limits, env.LimitsWhy = true, "root: a cgroup below strata's own"
	}
	if a, ok := nativeSeccompArch(); ok {
		env.Seccomp = "Docker's default profile (" + a.name + ")"
		if b, err := os.ReadFile("/proc/self/status"); err != nil || !strings.Contains(string(b), "\nSeccomp:") {
			env.Seccomp = "unavailable: the kernel has no seccomp"
		}
	} else {
		env.Seccomp = "none: no filter for this architecture"
	}
	env.Network = "slirp4netns"
	if p, err := slirpBinary(); err != nil {
		env.Network = "no default network: " + err.Error()
	} else {
		env.Network = p
		if err := unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK); err != nil {
			env.Network += " (but /dev/net/tun is not usable: " + err.Error() + "; chmod 0666 /dev/net/tun, as udev sets it)"
		}
	}
	return env
}

func probeOverlay(tmp string) error {
	dir, err := os.MkdirTemp(tmp, "strata-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"lower", "upper", "work", "mnt"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	mnt := filepath.Join(dir, "mnt")
	if err := mountOverlayAt(mnt, []string{filepath.Join(dir, "lower")}, filepath.Join(dir, "upper"), filepath.Join(dir, "work")); err != nil {
		return err
	}
	return unix.Unmount(mnt, unix.MNT_DETACH)
}

// userNSOverlayError explains an overlay mount refused in a user namespace:
// overlay there needs Linux 5.11 or later (userxattr) and a filesystem for
// the upper dir with user xattrs.
func userNSOverlayError(err *MountError) error {
	if !InUserNS() || !(errors.Is(err.Err, unix.EINVAL) || errors.Is(err.Err, unix.EPERM) || errors.Is(err.Err, unix.EOPNOTSUPP)) {
		return err
	}
	var u unix.Utsname
	_ = unix.Uname(&u)
	return fmt.Errorf("%w: strata runs without root, and overlay in a user namespace needs Linux 5.11 or later (this is %s) with user xattrs on the state folder's filesystem; run strata as root, or put --root on such a filesystem (strata info shows the snapshotter)", err, unix.ByteSliceToString(u.Release[:]))
}
