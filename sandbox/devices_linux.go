package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A container may create any device node (CAP_MKNOD, as in Docker) but open
// only the devices of Docker's default list: the device cgroup says so,
// whatever node names them and wherever it is (/dev, /tmp, an image's
// layer). On cgroup v1 that is the devices controller ("a" denied, then the
// rules allowed); on cgroup v2 an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the run's cgroup, like the one
// runc generates (libcontainer/cgroups/devices/devicefilter.go).

// deviceRule is one allow rule of a device cgroup.
type deviceRule struct {
	typ          byte  // 'c' or 'b'
	major, minor int64 // -1 is any (*)
	access       string
}

// defaultDeviceRules is what a Docker container may do with devices: the
// rules of moby's oci.DefaultLinuxSpec plus the ones runc always appends
// (specconv.AllowedDevices). Everything else is denied.
var defaultDeviceRules = []deviceRule{
	{'c', -1, -1, "m"},    // mknod of any char device
	{'b', -1, -1, "m"},    // mknod of any block device
	{'c', 1, 3, "rwm"},    // /dev/null
	{'c', 1, 5, "rwm"},    // /dev/zero
	{'c', 1, 7, "rwm"},    // /dev/full
	{'c', 1, 8, "rwm"},    // /dev/random
	{'c', 1, 9, "rwm"},    // /dev/urandom
	{'c', 5, 0, "rwm"},    // /dev/tty
	{'c', 5, 1, "rwm"},    // /dev/console
	{'c', 5, 2, "rwm"},    // /dev/ptmx
	{'c', 136, -1, "rwm"}, // /dev/pts/*
}

// String is the rule as devices.allow takes it: "c 1:3 rwm", "b *:* m".
func (r deviceRule) String() string {
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", r.typ, num(r.major), num(r.minor), r.access)
}

// accessBits is the rule's access as BPF_DEVCG_ACC_* bits.
func (r deviceRule) accessBits() uint32 {
	var a uint32
	for _, c := range r.access {
		switch c {
		case 'r':
			a |= unix.BPF_DEVCG_ACC_READ
		case 'w':
			a |= unix.BPF_DEVCG_ACC_WRITE
		case 'm':
			a |= unix.BPF_DEVCG_ACC_MKNOD
		}
	}
	return a
}

// setDevicesV1 restricts the v1 devices cgroup dir to rules. It must be done
// before any process joins the cgroup.
func setDevicesV1(dir string, rules []deviceRule) error {
	if err := writeCgroupFile(dir, "devices.deny", "a"); err != nil {
		return err
	}
	for _, r := range rules {
		if err := writeCgroupFile(dir, "devices.allow", r.String()); err != nil {
			return fmt.Errorf("%w (the parent cgroup must allow what Docker's default device list allows)", err)
		}
	}
	// The kernel reports the result: it must not be the allow-all it starts from.
	b, err := os.ReadFile(dir + "/devices.list")
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	if strings.Contains(string(b), "a *:* rwm") {
		return fmt.Errorf("cgroup: %s/devices.list still allows every device after writing \"a\" to devices.deny", dir)
	}
	return nil
}

// bpfInsn is one eBPF instruction (struct bpf_insn): regs holds dst_reg in
// the low and src_reg in the high nibble (little-endian bitfields; the
// architectures with a seccomp filter, amd64 and arm64, are little-endian).
type bpfInsn struct {
	code uint8
	regs uint8
	off  int16
	imm  int32
}

// The eBPF opcodes the device program uses.
const (
	bpfLdxMemW  = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W // dst = *(u32 *)(src + off)
	bpfAndImm32 = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K // dst &= imm (32 bit)
	bpfRshImm32 = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K // dst >>= imm (32 bit)
	bpfMovReg32 = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X // dst = src (32 bit)
	bpfMovImm32 = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_K // dst = imm (32 bit)
	bpfJneImm   = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K // if dst != imm goto pc+1+off
	bpfJneReg   = unix.BPF_JMP | unix.BPF_JNE | unix.BPF_X // if dst != src goto pc+1+off
	bpfExit     = unix.BPF_JMP | unix.BPF_EXIT             // return r0
)

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

// deviceFilterProgram is runc's device filter for allow rules over a
// default of deny. The context (struct bpf_cgroup_dev_ctx) is u32
// access_type (type in the low 16 bits, access in the high 16), u32 major,
// u32 minor; the program returns 1 to allow and 0 to deny:
//
//	r2 = type; r3 = access; r4 = major; r5 = minor
//	for each rule: if type, access (r3 & rule == r3), major, minor match: return 1
//	return 0
func deviceFilterProgram(rules []deviceRule) []bpfInsn {
	prog := []bpfInsn{
		insn(bpfLdxMemW, 2, 1, 0, 0),
		insn(bpfAndImm32, 2, 0, 0, 0xffff),
		insn(bpfLdxMemW, 3, 1, 0, 0),
		insn(bpfRshImm32, 3, 0, 0, 16),
		insn(bpfLdxMemW, 4, 1, 4, 0),
		insn(bpfLdxMemW, 5, 1, 8, 0),
	}
	for _, r := range rules {
		typ := int32(unix.BPF_DEVCG_DEV_CHAR)
		if r.typ == 'b' {
			typ = unix.BPF_DEVCG_DEV_BLOCK
		}
		acc := r.accessBits()
		// Each check jumps to the end of the block on a mismatch: the
		// offsets are filled in once the block's length is known.
		var block []bpfInsn
		block = append(block, insn(bpfJneImm, 2, 0, 0, typ))
		if acc != unix.BPF_DEVCG_ACC_READ|unix.BPF_DEVCG_ACC_WRITE|unix.BPF_DEVCG_ACC_MKNOD {
			block = append(block,
				insn(bpfMovReg32, 1, 3, 0, 0),
				insn(bpfAndImm32, 1, 0, 0, int32(acc)),
				insn(bpfJneReg, 1, 3, 0, 0))
		}
		if r.major >= 0 {
			block = append(block, insn(bpfJneImm, 4, 0, 0, int32(r.major)))
		}
		if r.minor >= 0 {
			block = append(block, insn(bpfJneImm, 5, 0, 0, int32(r.minor)))
		}
		block = append(block, insn(bpfMovImm32, 0, 0, 0, 1), insn(bpfExit, 0, 0, 0, 0))
		for i := range block {
			if block[i].code == bpfJneImm || block[i].code == bpfJneReg {
				block[i].off = int16(len(block) - i - 1)
			}
		}
		prog = append(prog, block...)
	}
	return append(prog, insn(bpfMovImm32, 0, 0, 0, 0), insn(bpfExit, 0, 0, 0, 0))
}

// bpfProgLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD; the
// kernel takes a shorter attr and zeroes the rest.
type bpfProgLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// bpfProgAttachAttr is union bpf_attr for BPF_PROG_ATTACH.
type bpfProgAttachAttr struct {
	targetFD     uint32
	attachBPFFD  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBPFFD uint32
}

func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return 0, errno
	}
	return r, nil
}

// loadDeviceFilter loads the program and returns its fd. On a verifier
// error the verifier's log is part of the error.
func loadDeviceFilter(prog []bpfInsn) (int, error) {
	license := []byte("Apache-2.0\x00")
	load := func(logBuf []byte) (int, error) {
		attr := bpfProgLoadAttr{
			progType:           unix.BPF_PROG_TYPE_CGROUP_DEVICE,
			insnCnt:            uint32(len(prog)),
			insns:              uint64(uintptr(unsafe.Pointer(&prog[0]))),
			license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
			expectedAttachType: unix.BPF_CGROUP_DEVICE,
		}
		copy(attr.progName[:], "strata_devices")
		if len(logBuf) > 0 {
			attr.logLevel = 1
			attr.logSize = uint32(len(logBuf))
			attr.logBuf = uint64(uintptr(unsafe.Pointer(&logBuf[0])))
		}
		fd, err := bpfCall(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(prog)
		runtime.KeepAlive(license)
		runtime.KeepAlive(logBuf)
		return int(fd), err
	}
	fd, err := load(nil)
	if errors.Is(err, unix.EPERM) {
		// Kernels before 5.11 charge BPF programs to RLIMIT_MEMLOCK.
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}) == nil {
			fd, err = load(nil)
		}
	}
	if err == nil {
		return fd, nil
	}
	logBuf := make([]byte, 64<<10)
	if _, lerr := load(logBuf); lerr != nil {
		if n := strings.IndexByte(string(logBuf), 0); n > 0 {
			return -1, fmt.Errorf("bpf BPF_PROG_LOAD (device cgroup program, %d instructions): %w: %s", len(prog), err, strings.TrimSpace(string(logBuf[:n])))
		}
	}
	return -1, fmt.Errorf("bpf BPF_PROG_LOAD (device cgroup program, %d instructions): %w", len(prog), err)
}

// attachDeviceFilter restricts the v2 cgroup dir to rules with an eBPF
// program. BPF_F_ALLOW_MULTI, as runc: programs of the parents run too, and
// all must allow. The cgroup keeps the program; it goes with the cgroup.
func attachDeviceFilter(dir string, rules []deviceRule) error {
	prog := deviceFilterProgram(rules)
	pfd, err := loadDeviceFilter(prog)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	defer unix.Close(pfd)
	cfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroup: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(cfd)
	attr := bpfProgAttachAttr{
		targetFD:    uint32(cfd),
		attachBPFFD: uint32(pfd),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpfCall(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("cgroup: bpf BPF_PROG_ATTACH (device program on %s): %w", dir, err)
	}
	return nil
}
