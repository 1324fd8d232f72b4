package sandbox

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The seccomp profile is Docker's default one (moby profiles/seccomp
// default.json) as Docker hands it to runc for a container with the default
// capability set, which is all a strata container ever has:
//
//   - an allowlist: every syscall it does not name fails with EPERM
//     (add_key, keyctl, request_key, userfaultfd, kexec_*, swapon, ... are
//     simply not on it; since Docker 25, following containerd, neither are
//     io_uring_setup, io_uring_enter and io_uring_register, whose ring
//     operations this filter would never see);
//   - the entries gated on capabilities strata drops are left out: mount,
//     umount2, pivot_root, unshare, setns, bpf, perf_event_open, fsopen and
//     friends (CAP_SYS_ADMIN), init/finit/delete_module, reboot, acct,
//     settimeofday/clock_settime, open_by_handle_at, iopl/ioperm, syslog, ...;
//     the one gated on CAP_SYS_CHROOT, which strata keeps, is in;
//   - clone with a namespace flag fails with EPERM, clone3 with ENOSYS (so
//     that libcs fall back to clone, whose flags the filter can read);
//   - socket(AF_VSOCK) fails; personality takes only the values Docker
//     allows;
//   - like runc, a syscall newer than every one the profile names fails with
//     ENOSYS rather than EPERM, so programs fall back from syscalls the
//     profile does not know yet (fchmodat2, mseal, ...);
//   - another audit architecture (i386 through int 0x80) and x32 syscalls
//     kill the process: Docker allows those ABIs with their own tables,
//     strata does not.
//
// The filter exists for linux/amd64 and linux/arm64; on other architectures
// containers run without one.
//
// Another architecture's program (--platform linux/arm64 on amd64) runs
// under QEMU's user-mode emulator through binfmt_misc (binfmt.go), which
// turns its syscalls into the host's: the filter sees host-architecture
// syscalls and needs no entry for the emulated architecture (Docker's
// arch list adds only the host's own ABIs, e.g. x86 and x32 to x86_64).
// TestEmulatedUnderSeccomp runs an arm64 busybox and the report program
// under it.

// seccompAllow is the profile's unconditional allowlist, plus the entries
// whose conditions hold for every strata container: kernel >= 4.8 (ptrace,
// process_vm_readv, process_vm_writev), CAP_SYS_CHROOT (chroot), and the
// per-architecture ones (arch_prctl and modify_ldt on amd64). Names that do
// not exist on an architecture are skipped.
var seccompAllow = []string{
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
	"chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
	"clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
	"clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
	"dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
	"epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
	"execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
	"fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown",
	"fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
	"flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
	"fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv",
	"futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
	"geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
	"getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
	"getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
	"getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
	"gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
	"inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
	"io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
	"io_submit", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
	"lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier",
	"memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat",
	"mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
	"mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
	"msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
	"newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
	"pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
	"ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
	"process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
	"read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
	"recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
	"renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
	"sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
	"setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
	"setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
	"shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
	"socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx",
	"symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
	"time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
	"timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
	"timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
	"tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
	"utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
	"waitid", "waitpid", "write", "writev",
	// includes minKernel 4.8
	"process_vm_readv", "process_vm_writev", "ptrace",
	// includes caps CAP_SYS_CHROOT
	"chroot",
}

// seccompAllowArch is allowed only on one architecture.
var seccompAllowArch = map[string][]string{
	"amd64": {"arch_prctl", "modify_ldt"},
}

// Docker's rules with argument checks, and its clone3 rule.
const (
	afVsock = 40
	// cloneNSFlags: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
	// (Docker's mask 2114060288).
	cloneNSFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
		unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
)

// personalityAllowed are the personality(2) arguments Docker lets through:
// PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26 and 0xffffffff
// (query).
var personalityAllowed = []uint32{0, 8, 0x20000, 0x20008, 0xffffffff}

// seccomp return values.
const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retKill   = unix.SECCOMP_RET_KILL_PROCESS
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// x32SyscallBit marks x32 syscalls on x86_64 (__X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

// seccompArch is what the filter needs to know about an architecture.
type seccompArch struct {
	name  string // GOARCH
	audit uint32 // AUDIT_ARCH_*
	nums  map[string]uint32
	x32   bool // x86_64: x32 syscalls share the audit arch, with bit 30 set
}

var seccompArches = map[string]seccompArch{
	"amd64": {name: "amd64", audit: unix.AUDIT_ARCH_X86_64, nums: sysnumAMD64, x32: true},
	"arm64": {name: "arm64", audit: unix.AUDIT_ARCH_AARCH64, nums: sysnumARM64},
}

// offsets in struct seccomp_data (little endian on amd64 and arm64).
const (
	offNr   = 0
	offArch = 4
)

func offArgLo(i int) uint32 { return uint32(16 + 8*i) }
func offArgHi(i int) uint32 { return uint32(16 + 8*i + 4) }

// leaf is what the filter does for one syscall number.
type leaf struct {
	kind int    // leafRet or one of the argument checks
	ret  uint32 // for leafRet
}

const (
	leafRet = iota
	leafSocket
	leafPersonality
	leafClone
)

// seccompRules is the profile for an architecture: the leaf of every
// syscall it names (the default is EPERM) and the highest number it names.
func seccompRules(a seccompArch) (map[uint32]leaf, uint32) {
	rules := map[uint32]leaf{}
	var max uint32
	set := func(name string, l leaf) {
		nr, ok := a.nums[name]
		if !ok {
			return
		}
		rules[nr] = l
		if nr > max {
			max = nr
		}
	}
	for _, n := range seccompAllow {
		set(n, leaf{kind: leafRet, ret: retAllow})
	}
	for _, n := range seccompAllowArch[a.name] {
		set(n, leaf{kind: leafRet, ret: retAllow})
	}
	set("socket", leaf{kind: leafSocket})
	set("personality", leaf{kind: leafPersonality})
	set("clone", leaf{kind: leafClone})
	set("clone3", leaf{kind: leafRet, ret: retENOSYS})
	return rules, max
}

// BPF instruction helpers.
func bpfStmt(code uint16, k uint32) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k}
}

func bpfJump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

const (
	opLoad = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opRet  = unix.BPF_RET | unix.BPF_K
	opJEQ  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJGE  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	opJGT  = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	opJSET = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	opJA   = unix.BPF_JMP | unix.BPF_JA
)

// leafCode is the code for one leaf: it always ends in a return, so leaves
// can be laid out one after the other.
func leafCode(l leaf) []unix.SockFilter {
	switch l.kind {
	case leafSocket:
		// Allowed unless the 64-bit domain is AF_VSOCK.
		return []unix.SockFilter{
			bpfStmt(opLoad, offArgHi(0)),
			bpfJump(opJEQ, 0, 0, 3),
			bpfStmt(opLoad, offArgLo(0)),
			bpfJump(opJEQ, afVsock, 0, 1),
			bpfStmt(opRet, retEPERM),
			bpfStmt(opRet, retAllow),
		}
	case leafPersonality:
		// Allowed for the listed 64-bit values (all have a zero high word).
		n := len(personalityAllowed)
		code := []unix.SockFilter{
			bpfStmt(opLoad, offArgHi(0)),
			bpfJump(opJEQ, 0, 0, uint8(n+1)), // -> EPERM
			bpfStmt(opLoad, offArgLo(0)),
		}
		for i, v := range personalityAllowed {
			code = append(code, bpfJump(opJEQ, v, uint8(n-i), 0)) // -> ALLOW
		}
		return append(code, bpfStmt(opRet, retEPERM), bpfStmt(opRet, retAllow))
	case leafClone:
		// Flags are the first argument on amd64 and arm64; the mask has no
		// high bits, so only the low word matters (as in libseccomp).
		return []unix.SockFilter{
			bpfStmt(opLoad, offArgLo(0)),
			bpfJump(opJSET, cloneNSFlags, 0, 1),
			bpfStmt(opRet, retEPERM),
			bpfStmt(opRet, retAllow),
		}
	default:
		return []unix.SockFilter{bpfStmt(opRet, l.ret)}
	}
}

// nrRange is a run of syscall numbers [lo, hi] with the same leaf.
type nrRange struct {
	lo, hi uint32
	leaf   leaf
}

// seccompProgram builds the filter for an architecture: check the audit
// architecture, then a binary search over runs of syscall numbers.
func seccompProgram(a seccompArch) []unix.SockFilter {
	rules, max := seccompRules(a)
	var ranges []nrRange
	deny := leaf{kind: leafRet, ret: retEPERM}
	for nr := uint32(0); nr <= max; nr++ {
		l, ok := rules[nr]
		if !ok {
			l = deny
		}
		if n := len(ranges); n > 0 && ranges[n-1].leaf == l && l.kind == leafRet {
			ranges[n-1].hi = nr
			continue
		}
		ranges = append(ranges, nrRange{lo: nr, hi: nr, leaf: l})
	}
	prog := []unix.SockFilter{
		bpfStmt(opLoad, offArch),
		bpfJump(opJEQ, a.audit, 1, 0),
		bpfStmt(opRet, retKill),
		bpfStmt(opLoad, offNr),
	}
	if a.x32 {
		prog = append(prog, bpfJump(opJGE, x32SyscallBit, 0, 1), bpfStmt(opRet, retKill))
	}
	prog = append(prog, bpfJump(opJGT, max, 0, 1), bpfStmt(opRet, retENOSYS))
	return append(prog, searchCode(ranges)...)
}

// searchCode finds the range holding the syscall number (in A) by binary
// search and runs its leaf. Every path ends in a return.
func searchCode(ranges []nrRange) []unix.SockFilter {
	if len(ranges) == 1 {
		return leafCode(ranges[0].leaf)
	}
	mid := len(ranges) / 2
	left, right := searchCode(ranges[:mid]), searchCode(ranges[mid:])
	k := ranges[mid].lo
	var code []unix.SockFilter
	if len(left) <= 255 {
		code = append(code, bpfJump(opJGE, k, uint8(len(left)), 0))
	} else {
		// Conditional jumps reach 255 instructions at most: jump over an
		// unconditional long jump instead.
		code = append(code, bpfJump(opJGE, k, 0, 1), bpfStmt(opJA, uint32(len(left))))
	}
	code = append(code, left...)
	return append(code, right...)
}

// nativeSeccompArch is the filter's architecture for this binary.
func nativeSeccompArch() (seccompArch, bool) {
	a, ok := seccompArches[runtime.GOARCH]
	return a, ok
}

// nativeFilter is the program for this binary's architecture, nil where
// there is none.
func nativeFilter() []unix.SockFilter {
	a, ok := nativeSeccompArch()
	if !ok {
		return nil
	}
	return seccompProgram(a)
}

// installSeccomp loads the filter on the calling thread, which must have
// no_new_privs set or CAP_SYS_ADMIN, and is the one that execs the command:
// the filter is inherited through execve, and the other (Go runtime) threads
// die there. The init loads it just before dropping its privileges, so
// nothing it does afterwards (setgroups, setresuid, capset, prctl, chdir,
// write, execve) may be denied, and none is.
func installSeccomp() error {
	prog := nativeFilter()
	if prog == nil {
		return nil // no filter for this architecture (see above)
	}
	if len(prog) > unix.BPF_MAXINSNS {
		return fmt.Errorf("seccomp filter has %d instructions, the kernel takes %d", len(prog), unix.BPF_MAXINSNS)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_SECCOMP (load the seccomp filter, %d instructions): %w", len(prog), err)
	}
	runtime.KeepAlive(prog)
	return nil
}
