package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const cgroupPrefix = "strata-"

// cgroupName is the name of a run's cgroup: the container id and the pid
// of the process that owns it, so that Sweep can tell a leftover of a dead
// process (strata killed with SIGKILL) from a live run.
func cgroupName(id string) string {
	return cgroupPrefix + id + "-" + strconv.Itoa(os.Getpid())
}

// cgroupOwner is the owner pid in a cgroupName, or 0 for another name.
func cgroupOwner(name string) int {
	rest, ok := strings.CutPrefix(name, cgroupPrefix)
	if !ok {
		return 0
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return 0
	}
	pid, err := strconv.Atoi(rest[i+1:])
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// cgroup is the per-run control group: one directory on cgroup v2, one per
// controller (devices, pids, memory) on v1. It is created below the
// caller's own cgroup, so limits that apply to the caller apply to the
// container too. It holds the container's device rules (devices_linux.go).
type cgroup struct {
	dirs      []string
	pidsDir   string // where pids.max goes
	memoryDir string // where the memory limit is, when there is one
}

// limitPids sets the pids limit. Run calls it once the command is executing,
// because the container init's own threads would count against it.
func (cg *cgroup) limitPids(pids int64) error {
	if pids <= 0 {
		return nil
	}
	if cg.pidsDir == "" {
		return errors.New("cgroup: no pids controller for the pids limit")
	}
	return writeCgroupFile(cg.pidsDir, "pids.max", strconv.FormatInt(pids, 10))
}

// oomKills is how many processes the OOM killer killed in the cgroup for
// reaching its memory limit: oom_kill of memory.events (v2) or of
// memory.oom_control (v1, Linux 4.13+). 0 without a memory limit.
func (cg *cgroup) oomKills() int64 {
	if cg.memoryDir == "" {
		return 0
	}
	for _, f := range []string{"memory.events", "memory.oom_control"} {
		b, err := os.ReadFile(filepath.Join(cg.memoryDir, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				return n
			}
		}
	}
	return 0
}

// oomError is the error for a command that exited with code: an
// *OOMError when it failed and the OOM killer killed in the cgroup, else nil.
func (cg *cgroup) oomError(code int, limit int64) error {
	if code == 0 || limit <= 0 || cg.oomKills() == 0 {
		return nil
	}
	return &OOMError{Limit: limit, Code: code}
}

// cgroupMount is one cgroup filesystem from /proc/self/mountinfo.
type cgroupMount struct {
	root, mountpoint string
	v2               bool
	controllers      []string // v1
}

func cgroupMounts() ([]cgroupMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	s := bufio.NewScanner(f)
	for s.Scan() {
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		m := cgroupMount{root: unescapeMountinfo(pf[3]), mountpoint: unescapeMountinfo(pf[4])}
		switch qf[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			m.controllers = strings.Split(qf[2], ",")
		default:
			continue
		}
		out = append(out, m)
	}
	return out, s.Err()
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroups parses /proc/self/cgroup: controller (or "" for v2) → path.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" {
			out[""] = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			out[c] = f[2]
		}
	}
	return out, nil
}

func cgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// cgroupParents returns the directories a run's cgroup is created in:
// controller ("" on v2) → directory.
func cgroupParents() (map[string]string, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	join := func(m cgroupMount, p string) string {
		rel := strings.TrimPrefix(p, m.root)
		return filepath.Join(m.mountpoint, rel)
	}
	out := map[string]string{}
	if cgroupV2() {
		for _, m := range mounts {
			if m.v2 && m.mountpoint == "/sys/fs/cgroup" {
				out[""] = join(m, own[""])
			}
		}
		if out[""] == "" {
			return nil, errors.New("cgroup v2 is not mounted at /sys/fs/cgroup")
		}
		return out, nil
	}
	for _, ctrl := range []string{"devices", "pids", "memory"} {
		for _, m := range mounts {
			for _, c := range m.controllers {
				if c == ctrl && out[ctrl] == "" {
					out[ctrl] = join(m, own[ctrl])
				}
			}
		}
	}
	return out, nil
}

func writeCgroupFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("cgroup: write %q to %s: %w", value, p, err)
	}
	return nil
}

// newCgroup creates the run's cgroup with Docker's device rules and the
// limits. The device rules are not optional: without a cgroup for them it
// is an error. Without limits a missing pids or memory controller is
// skipped; with a limit it is an error.
func newCgroup(id string, memory, pids int64) (*cgroup, error) {
	if InUserNS() {
		return newUserNSCgroup(id, memory, pids)
	}
	parents, err := cgroupParents()
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w (a container needs a cgroup of its own for its device rules)", err)
	}
	cg := &cgroup{}
	name := cgroupName(id)
	fail := func(err error) (*cgroup, error) {
		cg.remove()
		return nil, err
	}
	if parent, ok := parents[""]; ok { // v2
		var want []string
		if memory > 0 {
			want = append(want, "memory")
		}
		if pids > 0 {
			want = append(want, "pids")
		}
		if len(want) > 0 {
			b, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
			enabled := strings.Fields(string(b))
			for _, c := range want {
				if !contains(enabled, c) {
					if err := writeCgroupFile(parent, "cgroup.subtree_control", "+"+c); err != nil {
						return nil, fmt.Errorf("%w (the caller's cgroup must delegate the %s controller; with processes of its own it cannot, so run strata in a leaf cgroup of a delegated subtree)", err, c)
					}
				}
			}
		}
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup: %w (a container needs a cgroup of its own for its device rules)", err)
		}
		cg.dirs = append(cg.dirs, dir)
		if err := attachDeviceFilter(dir, defaultDeviceRules); err != nil {
			return fail(err)
		}
		if memory > 0 {
			if err := writeCgroupFile(dir, "memory.max", strconv.FormatInt(memory, 10)); err != nil {
				return fail(err)
			}
			_ = writeCgroupFile(dir, "memory.swap.max", "0")
			cg.memoryDir = dir
		}
		cg.pidsDir = dir
		return cg, nil
	}
	for _, ctrl := range []string{"devices", "pids", "memory"} {
		limit := map[string]int64{"pids": pids, "memory": memory}[ctrl]
		parent, ok := parents[ctrl]
		if !ok {
			if ctrl == "devices" {
				return fail(errors.New("cgroup: the devices controller is not mounted, so a container could open every host device (mount it: mount -t cgroup -o devices cgroup /sys/fs/cgroup/devices)"))
			}
			if limit > 0 {
				return fail(fmt.Errorf("cgroup: the %s controller is not mounted", ctrl))
			}
			continue
		}
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			if ctrl == "devices" {
				return fail(fmt.Errorf("cgroup: %w (a container needs a devices cgroup of its own for its device rules)", err))
			}
			if limit > 0 {
				return fail(fmt.Errorf("cgroup: %w", err))
			}
			continue
		}
		cg.dirs = append(cg.dirs, dir)
		switch ctrl {
		case "devices":
			if err := setDevicesV1(dir, defaultDeviceRules); err != nil {
				return fail(err)
			}
			continue
		case "pids":
			cg.pidsDir = dir
			continue
		}
		if limit == 0 {
			continue
		}
		if err := writeCgroupFile(dir, "memory.limit_in_bytes", strconv.FormatInt(limit, 10)); err != nil {
			return fail(err)
		}
		// No swap beyond the limit, when swap accounting exists.
		_ = writeCgroupFile(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(limit, 10))
		cg.memoryDir = dir
	}
	return cg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// add moves pid into the cgroup.
func (cg *cgroup) add(pid int) error {
	for _, d := range cg.dirs {
		if err := writeCgroupFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// remove kills whatever is still in the cgroup and removes it.
func (cg *cgroup) remove() error {
	var errs []error
	for _, d := range cg.dirs {
		errs = append(errs, removeCgroupDir(d))
	}
	cg.dirs = nil
	return errors.Join(errs...)
}

func removeCgroupDir(d string) error {
	var err error
	for i := 0; i < 50; i++ {
		err = unix.Rmdir(d)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		if b, rerr := os.ReadFile(filepath.Join(d, "cgroup.procs")); rerr == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, perr := strconv.Atoi(f); perr == nil && pid > 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(time.Duration(i+1) * 2 * time.Millisecond)
	}
	return fmt.Errorf("cgroup: remove %s: %w", d, err)
}
