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
	return fmt.Sprintf("%s needs a cgroup v2 subtree delegated to the user when strata runs without root, and %s; run strata in a delegated scope (systemd: systemd-run --user --scope -p Delegate=yes strata ..., on a machine booted with cgroup v2), run strata as root, or leave %s out", e.flag, e.why, e.flag)
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
