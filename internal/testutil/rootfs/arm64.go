package rootfs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strata-build/strata/assets"
)

// Arm64Deb is where .ci/run puts Debian's busybox-static for arm64.
const Arm64Deb = "/var/cache/strata-test/busybox-static_arm64.deb"

var (
	armOnce sync.Once
	armTar  []byte
	armErr  error
	armWhy  string
)

// BusyboxArm64Tar is the busybox rootfs of Debian's busybox-static for
// arm64 (Arm64Deb, else apt-get download busybox-static:arm64 where dpkg
// knows the arm64 architecture), made once. Listing its applets runs the
// arm64 busybox, so an arm64 emulator must be registered (binfmt_misc).
// The test is skipped with the reason when the .deb cannot be had.
func BusyboxArm64Tar(t testing.TB) []byte {
	t.Helper()
	armOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "strata-arm64-busybox-")
		if err != nil {
			armErr = err
			return
		}
		defer os.RemoveAll(tmp)
		deb := Arm64Deb
		if _, err := os.Stat(deb); err != nil {
			cmd := exec.Command("apt-get", "download", "-qq", "busybox-static:arm64")
			cmd.Dir = tmp
			if out, err := cmd.CombinedOutput(); err != nil {
				armWhy = "no arm64 busybox-static: " + Arm64Deb + " is missing and apt-get download busybox-static:arm64 failed (dpkg --add-architecture arm64 && apt-get update first; .ci/run does it): " + string(bytes.TrimSpace(out))
				return
			}
			m, _ := filepath.Glob(filepath.Join(tmp, "busybox-static_*_arm64.deb"))
			if len(m) != 1 {
				armWhy = "apt-get download busybox-static:arm64 left no .deb"
				return
			}
			deb = m[0]
		}
		x := filepath.Join(tmp, "x")
		if out, err := exec.Command("dpkg-deb", "-x", deb, x).CombinedOutput(); err != nil {
			armErr = fmt.Errorf("dpkg-deb -x %s: %v: %s", deb, err, bytes.TrimSpace(out))
			return
		}
		var buf bytes.Buffer
		armErr = assets.BusyboxRootfs(&buf, filepath.Join(x, "bin", "busybox"))
		armTar = buf.Bytes()
	})
	if armWhy != "" {
		t.Skip(armWhy)
	}
	if armErr != nil {
		t.Fatalf("arm64 busybox rootfs: %v (is an arm64 emulator registered? apt-get install qemu-user-static binfmt-support)", armErr)
	}
	return armTar
}
