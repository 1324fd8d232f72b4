package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// BinfmtDir is where the kernel's binfmt_misc handlers are listed.
const BinfmtDir = "/proc/sys/fs/binfmt_misc"

// EmulatorInstall says how to get QEMU's user-mode emulators registered,
// for the errors and strata info.
const EmulatorInstall = "install qemu-user-static and binfmt-support (Debian/Ubuntu: apt-get install qemu-user-static binfmt-support), which register qemu-<arch> handlers with the F flag; or run docker run --privileged --rm tonistiigi/binfmt --install all"

// Emulator is a binfmt_misc handler that runs another architecture's
// programs through QEMU user-mode emulation.
type Emulator struct {
	Arch        string // QEMU's name: aarch64, arm, riscv64...
	Interpreter string
	Enabled     bool
	// Fixed is the F flag: the kernel opened the interpreter when it was
	// registered, so it runs in a container whose root does not have it
	// (as in BuildKit's and Docker's emulation).
	Fixed bool
}

// EmulatorError is a foreign architecture with no usable handler.
type EmulatorError struct {
	Arch   string // QEMU's name
	Dir    string
	Reason string
}

func (e *EmulatorError) Error() string {
	return fmt.Sprintf("cannot run %s programs: %s; %s", e.Arch, e.Reason, EmulatorInstall)
}

// ReadEmulator reads the handler qemu-<arch> in dir (BinfmtDir when "").
func ReadEmulator(dir, arch string) (Emulator, error) {
	if dir == "" {
		dir = BinfmtDir
	}
	em := Emulator{Arch: arch}
	b, err := os.ReadFile(filepath.Join(dir, "qemu-"+arch))
	if err != nil {
		return em, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case line == "enabled":
			em.Enabled = true
		case k == "interpreter":
			em.Interpreter = v
		case k == "flags:":
			em.Fixed = strings.Contains(v, "F")
		}
	}
	return em, nil
}

// CheckEmulator says whether programs of QEMU architecture arch can run in
// a container here: a qemu-<arch> handler in dir (BinfmtDir when ""),
// enabled, with the F flag. The error says what is missing and what to
// install.
func CheckEmulator(dir, arch string) (Emulator, error) {
	if dir == "" {
		dir = BinfmtDir
	}
	if _, err := os.Stat(filepath.Join(dir, "register")); err != nil {
		reason := fmt.Sprintf("binfmt_misc is not mounted at %s (mount -t binfmt_misc binfmt_misc %s)", dir, dir)
		if !binfmtInKernel() {
			reason = "this kernel has no binfmt_misc (CONFIG_BINFMT_MISC), which QEMU emulation needs"
		}
		return Emulator{Arch: arch}, &EmulatorError{Arch: arch, Dir: dir, Reason: reason}
	}
	em, err := ReadEmulator(dir, arch)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return em, &EmulatorError{Arch: arch, Dir: dir, Reason: fmt.Sprintf("no binfmt_misc handler qemu-%s in %s", arch, dir)}
	case err != nil:
		return em, &EmulatorError{Arch: arch, Dir: dir, Reason: err.Error()}
	case !em.Enabled:
		return em, &EmulatorError{Arch: arch, Dir: dir, Reason: fmt.Sprintf("the handler %s is disabled (update-binfmts --enable qemu-%s)", filepath.Join(dir, "qemu-"+arch), arch)}
	case !em.Fixed:
		return em, &EmulatorError{Arch: arch, Dir: dir, Reason: fmt.Sprintf("the handler %s lacks the F flag, so its interpreter %s cannot be found inside a container (register it again with F: qemu-user-static's handlers have it, qemu-user-binfmt's do not)", filepath.Join(dir, "qemu-"+arch), em.Interpreter)}
	}
	return em, nil
}

// Emulators lists the usable qemu-* handlers in dir (BinfmtDir when ""),
// by architecture, for strata info.
func Emulators(dir string) []Emulator {
	if dir == "" {
		dir = BinfmtDir
	}
	ents, _ := os.ReadDir(dir)
	var out []Emulator
	for _, e := range ents {
		arch, ok := strings.CutPrefix(e.Name(), "qemu-")
		if !ok {
			continue
		}
		if em, err := ReadEmulator(dir, arch); err == nil && em.Enabled && em.Fixed {
			out = append(out, em)
		}
	}
	slices.SortFunc(out, func(a, b Emulator) int { return strings.Compare(a.Arch, b.Arch) })
	return out
}

// binfmtInKernel reports whether /proc/filesystems lists binfmt_misc.
func binfmtInKernel() bool {
	b, err := os.ReadFile("/proc/filesystems")
	return err == nil && strings.Contains(string(b), "binfmt_misc")
}

// BinfmtAvailable reports whether the kernel can have binfmt_misc handlers
// at all (the filesystem exists), for tests that skip where it cannot.
func BinfmtAvailable() bool { return binfmtInKernel() }
