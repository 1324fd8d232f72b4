package main

import (
	"encoding/json"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

type probe struct {
	nr   uintptr
	args [6]uintptr
}

// probes are harmless calls of syscalls that Docker's seccomp profile denies
// (and of a few it allows): each is made with arguments the kernel itself
// rejects or that change nothing, so that an unfiltered call is safe too.
var probes = map[string]probe{
	"getpid":          {nr: unix.SYS_GETPID},
	"chdir":           {nr: unix.SYS_CHDIR, args: [6]uintptr{ptr(rootPath)}},
	"keyctl":          {nr: unix.SYS_KEYCTL, args: [6]uintptr{unix.KEYCTL_GET_KEYRING_ID, neg(unix.KEY_SPEC_SESSION_KEYRING), 0}},
	"add_key":         {nr: unix.SYS_ADD_KEY},                               // NULL type: EFAULT
	"request_key":     {nr: unix.SYS_REQUEST_KEY},                           // NULL type: EFAULT
	"bpf":             {nr: unix.SYS_BPF, args: [6]uintptr{0x7fffffff}},     // no such command
	"perf_event_open": {nr: unix.SYS_PERF_EVENT_OPEN},                       // NULL attr: EFAULT
	"unshare":         {nr: unix.SYS_UNSHARE},                               // no flags: a no-op
	"mount":           {nr: unix.SYS_MOUNT},                                 // NULL target: EFAULT
	"init_module":     {nr: unix.SYS_INIT_MODULE},                           // empty image
	"userfaultfd":     {nr: unix.SYS_USERFAULTFD, args: [6]uintptr{0xffff}}, // bad flags: EINVAL
	// CLONE_NEWUSER with CLONE_FS is EINVAL for the kernel.
	"clone_newuser":        {nr: unix.SYS_CLONE, args: [6]uintptr{unix.CLONE_NEWUSER | unix.CLONE_FS}},
	"clone3":               {nr: unix.SYS_CLONE3}, // NULL args: EINVAL
	"socket_vsock":         {nr: unix.SYS_SOCKET, args: [6]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM | unix.SOCK_CLOEXEC}},
	"socket_unix":          {nr: unix.SYS_SOCKET, args: [6]uintptr{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_CLOEXEC}},
	"personality_query":    {nr: unix.SYS_PERSONALITY, args: [6]uintptr{0xffffffff}},
	"personality_norandom": {nr: unix.SYS_PERSONALITY, args: [6]uintptr{0x0040000}},        // ADDR_NO_RANDOMIZE,
	"fchmodat2":            {nr: unix.SYS_FCHMODAT2, args: [6]uintptr{neg(unix.AT_FDCWD)}}, // NULL path: EFAULT
	"io_uring_setup":       {nr: unix.SYS_IO_URING_SETUP, args: [6]uintptr{1}},             // NULL params: EFAULT
	"io_uring_enter":       {nr: unix.SYS_IO_URING_ENTER, args: [6]uintptr{neg(-1)}},       // no such fd: EBADF
	"io_uring_register":    {nr: unix.SYS_IO_URING_REGISTER, args: [6]uintptr{neg(-1)}},    // bad opcode/fd: EINVAL
}

// rootPath is "/" as a C string; a global, so it stays alive.
var rootPath = []byte("/\x00")

func ptr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

func neg(v int) uintptr { return uintptr(v) }

// syscallReport makes every probe on one thread and prints, as JSON, "OK"
// or the errno name for each.
func syscallReport() {
	runtime.LockOSThread()
	out := map[string]string{}
	for name, p := range probes {
		r, _, e := syscall.RawSyscall6(p.nr, p.args[0], p.args[1], p.args[2], p.args[3], p.args[4], p.args[5])
		if e != 0 {
			out[name] = unix.ErrnoName(e)
			continue
		}
		out[name] = "OK"
		if name == "socket_vsock" || name == "socket_unix" {
			syscall.Close(int(r))
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
