package sandbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// seccompData is the kernel's struct seccomp_data.
type seccompData struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runFilter executes a seccomp program the way the kernel does, refusing
// anything the kernel's checker would (unknown opcodes, misaligned or
// out-of-range loads, jumps past the end). It returns the action and the
// number of instructions executed.
func runFilter(prog []unix.SockFilter, d seccompData) (uint32, int, error) {
	if len(prog) == 0 || len(prog) > unix.BPF_MAXINSNS {
		return 0, 0, fmt.Errorf("program length %d", len(prog))
	}
	data := d.bytes()
	var a uint32
	steps := 0
	for pc := 0; ; pc++ {
		if pc >= len(prog) {
			return 0, steps, fmt.Errorf("pc %d runs past the end (%d instructions)", pc, len(prog))
		}
		steps++
		ins := prog[pc]
		switch ins.Code {
		case opLoad:
			if ins.K%4 != 0 || int(ins.K)+4 > len(data) {
				return 0, steps, fmt.Errorf("pc %d: load at offset %d", pc, ins.K)
			}
			a = binary.LittleEndian.Uint32(data[ins.K:])
		case opRet:
			return ins.K, steps, nil
		case opJA:
			pc += int(ins.K)
		case opJEQ, opJGE, opJGT, opJSET:
			var cond bool
			switch ins.Code {
			case opJEQ:
				cond = a == ins.K
			case opJGE:
				cond = a >= ins.K
			case opJGT:
				cond = a > ins.K
			case opJSET:
				cond = a&ins.K != 0
			}
			if cond {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		default:
			return 0, steps, fmt.Errorf("pc %d: opcode %#x", pc, ins.Code)
		}
	}
}

// wantAction is what the profile says for d, computed from the rules
// directly (no BPF).
func wantAction(a seccompArch, d seccompData) uint32 {
	if d.arch != a.audit {
		return retKill
	}
	if a.x32 && d.nr >= x32SyscallBit {
		return retKill
	}
	rules, max := seccompRules(a)
	if d.nr > max {
		return retENOSYS
	}
	l, ok := rules[d.nr]
	if !ok {
		return retEPERM
	}
	switch l.kind {
	case leafSocket:
		if d.args[0] == afVsock {
			return retEPERM
		}
		return retAllow
	case leafPersonality:
		for _, v := range personalityAllowed {
			if d.args[0] == uint64(v) {
				return retAllow
			}
		}
		return retEPERM
	case leafClone:
		if uint32(d.args[0])&cloneNSFlags != 0 {
			return retEPERM
		}
		return retAllow
	}
	return l.ret
}

func actionName(r uint32) string {
	switch r {
	case retAllow:
		return "ALLOW"
	case retKill:
		return "KILL"
	case retEPERM:
		return "EPERM"
	case retENOSYS:
		return "ENOSYS"
	}
	return fmt.Sprintf("%#x", r)
}

// argVariants are first arguments worth trying on every syscall.
var argVariants = []uint64{
	0, 8, 17, 40, 0x20000, 0x20008, 0xffffffff, 0x40000, 0x1_00000000, 0x1_00000028, 0xffffffff_ffffffff,
	unix.CLONE_NEWUSER, unix.CLONE_NEWNS | 17, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP,
	unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID,
	unix.CLONE_NEWUSER << 32,
}

// TestSeccompProgram runs the generated filter of each architecture on every
// syscall number (and then some) with various arguments and compares it with
// the profile, and checks Docker's decisions for the syscalls that matter.
func TestSeccompProgram(t *testing.T) {
	for _, a := range seccompArches {
		t.Run(a.name, func(t *testing.T) {
			prog := seccompProgram(a)
			_, maxNr := seccompRules(a)
			maxSteps := 0
			check := func(d seccompData) uint32 {
				t.Helper()
				got, steps, err := runFilter(prog, d)
				if err != nil {
					t.Fatalf("nr %d args %#x: %v", d.nr, d.args[0], err)
				}
				if want := wantAction(a, d); got != want {
					t.Fatalf("nr %d arch %#x arg0 %#x: %s, want %s", d.nr, d.arch, d.args[0], actionName(got), actionName(want))
				}
				maxSteps = max(maxSteps, steps)
				return got
			}
			nrs := []uint32{x32SyscallBit - 1, x32SyscallBit, x32SyscallBit | 1, 0xffffffff}
			for nr := uint32(0); nr <= maxNr+64; nr++ {
				nrs = append(nrs, nr)
			}
			for _, nr := range nrs {
				for _, arg := range argVariants {
					check(seccompData{nr: nr, arch: a.audit, args: [6]uint64{arg}})
				}
			}
			for _, arch := range []uint32{unix.AUDIT_ARCH_I386, unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_AARCH64, unix.AUDIT_ARCH_ARM, 0} {
				if arch == a.audit {
					continue
				}
				if got := check(seccompData{nr: a.nums["read"], arch: arch}); got != retKill {
					t.Errorf("read on audit arch %#x: %s, want KILL", arch, actionName(got))
				}
			}
			t.Logf("%d instructions, at most %d executed per syscall", len(prog), maxSteps)

			// Docker's decisions, by name.
			call := func(name string, arg0 uint64) string {
				nr, ok := a.nums[name]
				if !ok {
					return "absent"
				}
				return actionName(check(seccompData{nr: nr, arch: a.audit, args: [6]uint64{arg0}}))
			}
			want := map[string][]string{
				"ALLOW": {"read", "write", "openat", "execve", "exit_group", "mmap", "futex", "chroot", "ptrace",
					"process_vm_readv", "name_to_handle_at", "clock_adjtime", "setuid", "capset"},
				"EPERM": {"add_key", "keyctl", "request_key", "bpf", "perf_event_open", "kexec_load", "kexec_file_load",
					"init_module", "finit_module", "delete_module", "mount", "umount2", "pivot_root", "unshare", "setns",
					"reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "open_by_handle_at",
					"userfaultfd", "syslog", "quotactl", "fsopen", "fsmount", "move_mount", "open_tree", "mount_setattr",
					"lookup_dcookie", "vhangup", "sethostname", "setdomainname", "kcmp", "pidfd_getfd",
					"process_madvise", "mbind", "set_mempolicy", "get_mempolicy", "fanotify_init", "iopl", "ioperm",
					"io_uring_setup", "io_uring_enter", "io_uring_register", // since Docker 25
					"uselib", "ustat", "sysfs", "vm86", "nfsservctl", "create_module", "query_module"},
				"ENOSYS": {"clone3", "fchmodat2", "mseal", "map_shadow_stack", "set_mempolicy_home_node"},
			}
			for action, names := range want {
				for _, n := range names {
					if got := call(n, 0); got != action && got != "absent" {
						t.Errorf("%s: %s, want %s", n, got, action)
					}
				}
			}
			if a.name == "amd64" {
				for _, n := range []string{"arch_prctl", "modify_ldt"} {
					if got := call(n, 0); got != "ALLOW" {
						t.Errorf("%s: %s, want ALLOW", n, got)
					}
				}
				if got := actionName(check(seccompData{nr: x32SyscallBit | a.nums["read"], arch: a.audit})); got != "KILL" {
					t.Errorf("x32 read: %s, want KILL", got)
				}
			}
			for _, tc := range []struct {
				name string
				arg  uint64
				want string
			}{
				{"socket", unix.AF_INET, "ALLOW"},
				{"socket", unix.AF_UNIX, "ALLOW"},
				{"socket", unix.AF_VSOCK, "EPERM"},
				{"socket", 1<<32 | unix.AF_VSOCK, "ALLOW"}, // 64-bit compare, as libseccomp
				{"personality", 0, "ALLOW"},
				{"personality", 0xffffffff, "ALLOW"},
				{"personality", 8, "ALLOW"},
				{"personality", 0x0040000, "EPERM"}, // ADDR_NO_RANDOMIZE (setarch -R)
				{"personality", 1<<32 | 8, "EPERM"},
				{"clone", 17 /* SIGCHLD */, "ALLOW"},
				{"clone", unix.CLONE_VM | unix.CLONE_VFORK | 17, "ALLOW"},
				{"clone", unix.CLONE_NEWUSER, "EPERM"},
				{"clone", unix.CLONE_NEWNS, "EPERM"},
				{"clone", unix.CLONE_NEWPID | 17, "EPERM"},
				{"clone", unix.CLONE_NEWNET, "EPERM"},
				{"clone", unix.CLONE_NEWUTS, "EPERM"},
				{"clone", unix.CLONE_NEWIPC, "EPERM"},
				{"clone", unix.CLONE_NEWCGROUP, "EPERM"},
			} {
				if got := call(tc.name, tc.arg); got != tc.want {
					t.Errorf("%s(%#x): %s, want %s", tc.name, tc.arg, got, tc.want)
				}
			}
			for _, n := range seccompAllow {
				if got := call(n, 0); got != "ALLOW" && got != "absent" {
					t.Errorf("%s is on Docker's allowlist: %s", n, got)
				}
			}
		})
	}
}

// TestSeccompLongJumps: a search tree too big for 8-bit conditional jumps
// still lands every number on its own leaf.
func TestSeccompLongJumps(t *testing.T) {
	var ranges []nrRange
	rets := []uint32{retAllow, retEPERM, retENOSYS}
	for i := uint32(0); i < 1200; i++ {
		l := leaf{kind: leafRet, ret: rets[i%3]}
		if i%7 == 0 {
			l = leaf{kind: leafPersonality}
		}
		ranges = append(ranges, nrRange{lo: 2 * i, hi: 2*i + 1, leaf: l})
	}
	prog := searchCode(ranges)
	long := 0
	for _, ins := range prog {
		if ins.Code == opJA {
			long++
		}
	}
	if long == 0 {
		t.Fatalf("no long jump in a %d-instruction program", len(prog))
	}
	for _, r := range ranges {
		for nr := r.lo; nr <= r.hi; nr++ {
			want := r.leaf.ret
			if r.leaf.kind == leafPersonality {
				want = retAllow // argument 0 is allowed
			}
			data := seccompData{nr: nr}
			// searchCode expects the number in A: prepend the load.
			got, _, err := runFilter(append([]unix.SockFilter{bpfStmt(opLoad, offNr)}, prog...), data)
			if err != nil || got != want {
				t.Fatalf("nr %d: %s, %v; want %s", nr, actionName(got), err, actionName(want))
			}
		}
	}
}

// TestSeccompFilterInKernel loads the filter for real (no root needed: it
// sets no_new_privs) in a child that execs the report program, and compares
// its syscalls with and without the filter: the kernel accepts the program,
// and the denials are the filter's doing.
func TestSeccompFilterInKernel(t *testing.T) {
	if _, ok := nativeSeccompArch(); !ok {
		t.Skipf("no seccomp filter on %s", runtime.GOARCH)
	}
	report := buildReport(t)
	probe := func(mode string) map[string]string {
		cmd := exec.Command(os.Args[0], report, "syscalls")
		cmd.Env = []string{seccompExecEnv + "=" + mode}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, stderr.String())
		}
		res := map[string]string{}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		return res
	}
	filtered, plain := probe("filter"), probe("plain")
	want := map[string]string{
		"getpid": "OK", "chdir": "OK", "socket_unix": "OK", "personality_query": "OK",
		"keyctl": "EPERM", "add_key": "EPERM", "request_key": "EPERM", "bpf": "EPERM", "perf_event_open": "EPERM",
		"unshare": "EPERM", "mount": "EPERM", "init_module": "EPERM", "userfaultfd": "EPERM",
		"clone_newuser": "EPERM", "socket_vsock": "EPERM", "personality_norandom": "EPERM",
		"clone3": "ENOSYS", "fchmodat2": "ENOSYS",
		"io_uring_setup": "EPERM", "io_uring_enter": "EPERM", "io_uring_register": "EPERM",
	}
	for name, w := range want {
		if filtered[name] != w {
			t.Errorf("%s with the filter: %s, want %s (without: %s)", name, filtered[name], w, plain[name])
		}
		if w != "OK" && plain[name] == w {
			// The same without the filter (e.g. not root): proves nothing.
			t.Logf("%s is %s without the filter too", name, w)
		}
	}
	t.Logf("with filter: %v", filtered)
	t.Logf("without:     %v", plain)
}

// TestSeccompInContainer: a container's command runs under the filter
// (Seccomp: 2), busybox `unshare -U` is refused with "Operation not
// permitted" while ordinary commands work, and SeccompUnconfined lifts it.
func TestSeccompInContainer(t *testing.T) {
	lower := busyboxRootfs(t)
	if _, ok := nativeSeccompArch(); !ok {
		t.Skipf("no seccomp filter on %s", runtime.GOARCH)
	}
	script := `grep '^Seccomp:' /proc/self/status
mkdir -p /tmp/d && echo ok > /tmp/d/f && cat /tmp/d/f && ls /tmp/d | wc -l
unshare -U true && echo unshare-ok
exit 0`
	spec := newSpec(t, lower, "sh", "-c", script)
	r := mustRun(t, spec)
	if !strings.Contains(r.stdout, "Seccomp:\t2\n") {
		t.Errorf("no filter mode in /proc/self/status:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "ok\n1\n") {
		t.Errorf("ordinary commands failed:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "unshare-ok") || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("unshare -U was not refused:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}

	spec = newSpec(t, lower, "report", "syscalls")
	r = mustRun(t, spec)
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("report syscalls: %v\n%s", err, r.stdout)
	}
	for name, want := range map[string]string{"keyctl": "EPERM", "clone_newuser": "EPERM", "clone3": "ENOSYS", "getpid": "OK", "socket_unix": "OK", "io_uring_setup": "EPERM"} {
		if got[name] != want {
			t.Errorf("%s in the container: %s, want %s", name, got[name], want)
		}
	}

	spec = newSpec(t, lower, "sh", "-c", script)
	spec.SeccompUnconfined = true
	r = mustRun(t, spec)
	if !strings.Contains(r.stdout, "Seccomp:\t0\n") {
		t.Errorf("SeccompUnconfined still filtered:\n%s", r.stdout)
	}
	if b, _ := os.ReadFile("/proc/sys/user/max_user_namespaces"); strings.TrimSpace(string(b)) != "0" && !strings.Contains(r.stdout, "unshare-ok") {
		t.Errorf("unshare -U fails without the filter too, so the test proves nothing:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
}
