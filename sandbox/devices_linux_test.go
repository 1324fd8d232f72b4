package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/strata-build/strata/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// deviceScript tries each device operation and prints "label: ok" or
// "label: <error message>", one line each. No real host device but the
// test's own loop device (b 7 MINOR) is ever named: c 1 250 is a char
// device number that no driver has.
const deviceScript = `r() { label=$1; shift; if out=$("$@" 2>&1); then echo "$label: ok"; else echo "$label: $out"; fi; }
r mknod-blk mknod /tmp/blk b 7 MINOR
r read-blk head -c 6 /tmp/blk
r write-blk sh -c 'echo pwned > /tmp/blk'
r mknod-devblk mknod /dev/blk b 7 MINOR
r read-devblk head -c 6 /dev/blk
r mknod-chr mknod /tmp/chr c 1 250
r read-chr head -c 1 /tmp/chr
r mknod-null mknod /tmp/mynull c 1 3
r write-null sh -c 'echo x > /tmp/mynull'
r read-null head -c 1 /tmp/mynull
r mknod-zero mknod /dev/myzero c 1 5
r read-zero sh -c 'head -c 3 /dev/myzero | wc -c'
r std sh -c 'echo x > /dev/null && head -c 4 /dev/zero >/dev/null && head -c 4 /dev/urandom >/dev/null && head -c 4 /dev/random >/dev/null'
`

// checkDeviceResults checks deviceScript's output: the block device and
// the unlisted char device can be created but not opened (EPERM), nodes of
// allowed devices work, and the loop device's backing file is unchanged.
func checkDeviceResults(t *testing.T, out, backing, content string) {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		got[k] = v
	}
	for _, ok := range []string{"mknod-blk", "mknod-devblk", "mknod-chr", "mknod-null", "write-null", "read-null", "mknod-zero", "read-zero", "std"} {
		if got[ok] != "ok" {
			t.Errorf("%s: %q, want ok (Docker allows it)\n%s", ok, got[ok], out)
		}
	}
	for _, denied := range []string{"read-blk", "write-blk", "read-devblk", "read-chr"} {
		if !strings.Contains(got[denied], "Operation not permitted") {
			t.Errorf("%s: %q, want Operation not permitted (EPERM from the device cgroup)\n%s", denied, got[denied], out)
		}
	}
	b, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(content)) || bytes.Contains(b[:64], []byte("pwned")) {
		t.Errorf("the loop device's backing file changed: %q", b[:64])
	}
}

// TestDevicesRefused: a container can mknod any device (Docker's c *:* m
// and b *:* m) but open only Docker's default ones: a block device (a loop
// device the test made) and a char device not on the list fail with EPERM,
// in /tmp and in /dev alike; null-like nodes work.
func TestDevicesRefused(t *testing.T) {
	lower := busyboxRootfs(t)
	const content = "secret-loop-content"
	minor, backing := testutil.LoopDevice(t, content)
	script := strings.ReplaceAll(deviceScript, "MINOR", strconv.Itoa(int(minor)))
	spec := newSpec(t, lower, "sh", "-c", script)
	spec.ID = testID
	r := mustRun(t, spec)
	checkDeviceResults(t, r.stdout, backing, content)
	if strings.Contains(r.stdout, content) {
		t.Errorf("the container read the loop device:\n%s", r.stdout)
	}
}

// TestDevMounts: /dev, /dev/shm, /dev/mqueue, /dev/pts, /proc and /sys carry
// Docker's mount flags (oci/defaults.go).
func TestDevMounts(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "cat", "/proc/self/mounts")
	r := mustRun(t, spec)
	want := map[string]struct {
		fstype string
		has    []string
		hasNot []string
	}{
		"/dev":          {"tmpfs", []string{"rw", "nosuid", "mode=755"}, []string{"nodev", "noexec"}},
		"/dev/pts":      {"devpts", []string{"rw", "nosuid", "noexec", "mode=620", "ptmxmode=666", "gid=5"}, nil},
		"/dev/shm":      {"tmpfs", []string{"rw", "nosuid", "nodev", "noexec"}, nil},
		"/dev/mqueue":   {"mqueue", []string{"rw", "nosuid", "nodev", "noexec"}, nil},
		"/proc":         {"proc", []string{"rw", "nosuid", "nodev", "noexec"}, nil},
		"/sys":          {"sysfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil},
		"/proc/sys":     {"", []string{"ro", "nosuid", "nodev", "noexec"}, nil},
		"/proc/keys":    {"", nil, nil}, // masked
		"/sys/firmware": {"tmpfs", []string{"ro"}, nil},
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		w, ok := want[f[1]]
		if !ok {
			continue
		}
		seen[f[1]] = true
		if w.fstype != "" && f[2] != w.fstype {
			t.Errorf("%s is %s, want %s: %s", f[1], f[2], w.fstype, line)
		}
		opts := strings.Split(f[3], ",")
		for _, o := range w.has {
			if !contains(opts, o) {
				t.Errorf("%s lacks %s: %s", f[1], o, line)
			}
		}
		for _, o := range w.hasNot {
			if contains(opts, o) {
				t.Errorf("%s has %s, Docker's has not: %s", f[1], o, line)
			}
		}
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("no mount on %s:\n%s", p, r.stdout)
		}
	}
}

// TestDeviceRules: the rules are Docker's default list, in the syntax of
// the v1 devices controller.
func TestDeviceRules(t *testing.T) {
	var got []string
	for _, r := range defaultDeviceRules {
		got = append(got, r.String())
	}
	want := "c *:* m|b *:* m|c 1:3 rwm|c 1:5 rwm|c 1:7 rwm|c 1:8 rwm|c 1:9 rwm|c 5:0 rwm|c 5:1 rwm|c 5:2 rwm|c 136:* rwm"
	if strings.Join(got, "|") != want {
		t.Errorf("rules\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

// TestDeviceFilterProgram runs the cgroup v2 device program in a small
// interpreter on every device type, access and a range of numbers and
// compares it with the rules.
func TestDeviceFilterProgram(t *testing.T) {
	prog := deviceFilterProgram(defaultDeviceRules)
	allowed := func(typ uint32, access uint32, major, minor uint32) bool {
		for _, r := range defaultDeviceRules {
			rt := uint32(unix.BPF_DEVCG_DEV_CHAR)
			if r.typ == 'b' {
				rt = unix.BPF_DEVCG_DEV_BLOCK
			}
			if rt != typ || (r.major >= 0 && uint32(r.major) != major) || (r.minor >= 0 && uint32(r.minor) != minor) {
				continue
			}
			if access&^r.accessBits() == 0 {
				return true
			}
		}
		return false
	}
	n := 0
	for _, typ := range []uint32{unix.BPF_DEVCG_DEV_BLOCK, unix.BPF_DEVCG_DEV_CHAR} {
		for access := uint32(1); access <= 7; access++ {
			for _, major := range []uint32{0, 1, 4, 5, 7, 8, 10, 136, 137, 254, 1 << 20} {
				for minor := uint32(0); minor < 260; minor++ {
					got, err := runDeviceFilter(prog, typ|access<<16, major, minor)
					if err != nil {
						t.Fatal(err)
					}
					if want := allowed(typ, access, major, minor); (got == 1) != want {
						t.Fatalf("type %d access %#x %d:%d: program says %d, rules say %v", typ, access, major, minor, got, want)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d instructions, %d cases", len(prog), n)
}

// runDeviceFilter interprets the few eBPF instructions deviceFilterProgram
// emits, on a struct bpf_cgroup_dev_ctx.
func runDeviceFilter(prog []bpfInsn, accessType, major, minor uint32) (uint64, error) {
	var reg [11]uint64
	ctx := [3]uint32{accessType, major, minor}
	for pc, steps := 0, 0; steps < 10000; steps++ {
		if pc < 0 || pc >= len(prog) {
			return 0, fmt.Errorf("pc %d out of the program (%d instructions)", pc, len(prog))
		}
		in := prog[pc]
		dst, src := in.regs&0xf, in.regs>>4
		pc++
		switch in.code {
		case bpfLdxMemW:
			if src != 1 || in.off%4 != 0 || in.off < 0 || in.off > 8 {
				return 0, fmt.Errorf("load from r%d%+d", src, in.off)
			}
			reg[dst] = uint64(ctx[in.off/4])
		case bpfAndImm32:
			reg[dst] = uint64(uint32(reg[dst]) & uint32(in.imm))
		case bpfRshImm32:
			reg[dst] = uint64(uint32(reg[dst]) >> uint32(in.imm))
		case bpfMovReg32:
			reg[dst] = uint64(uint32(reg[src]))
		case bpfMovImm32:
			reg[dst] = uint64(uint32(in.imm))
		case bpfJneImm:
			if reg[dst] != uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case bpfJneReg:
			if reg[dst] != reg[src] {
				pc += int(in.off)
			}
		case bpfExit:
			return reg[0], nil
		default:
			return 0, fmt.Errorf("unknown opcode %#x at %d", in.code, pc-1)
		}
	}
	return 0, errors.New("program does not end")
}

// cgroup2Dir returns this process's cgroup on the v2 hierarchy, wherever it
// is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host).
func cgroup2Dir(t *testing.T) string {
	t.Helper()
	mounts, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	own, err := ownCgroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.v2 {
			return filepath.Join(m.mountpoint, strings.TrimPrefix(own[""], m.root))
		}
	}
	t.Skip("no cgroup v2 hierarchy mounted: the eBPF device program cannot be loaded here")
	return ""
}

// TestDeviceFilterInKernel loads the eBPF program, attaches it to a new
// cgroup on the v2 hierarchy (also present on hybrid hosts) and runs a
// shell in it (CLONE_INTO_CGROUP): the kernel must decide as the rules do.
func TestDeviceFilterInKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (bpf and cgroups)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static busybox at /bin/busybox (Debian package busybox-static)")
	}
	parent := cgroup2Dir(t)
	const content = "secret-loop-content"
	minor, backing := testutil.LoopDevice(t, content)
	dir := filepath.Join(parent, cgroupPrefix+"test-devices-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup on the v2 hierarchy: %v", err)
	}
	t.Cleanup(func() {
		if err := removeCgroupDir(dir); err != nil {
			t.Error(err)
		}
	})
	if err := attachDeviceFilter(dir, defaultDeviceRules); err != nil {
		t.Fatal(err)
	}
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	// The script's /tmp and /dev are a private tmpfs of its own.
	work := t.TempDir()
	for _, d := range []string{"tmp", "dev"} {
		if err := os.Mkdir(filepath.Join(work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.ReplaceAll(deviceScript, "MINOR", strconv.Itoa(int(minor)))
	script = strings.ReplaceAll(script, "/tmp/", work+"/tmp/")
	script = strings.ReplaceAll(script, "/dev/blk", work+"/dev/blk")
	script = strings.ReplaceAll(script, "/dev/myzero", work+"/dev/myzero")
	cmd := exec.Command("/bin/busybox", "sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr.String())
	}
	checkDeviceResults(t, string(out), backing, content)
}
