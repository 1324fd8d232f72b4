package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// LoopDevice attaches a fresh loop device to a 1 MiB file of the test's
// own that starts with content, and detaches it at the end. It returns
// the device's minor number (its major is 7) and the backing file. The
// test is skipped, with the reason, without losetup or a free loop device.
func LoopDevice(t testing.TB, content string) (minor uint32, backing string) {
	t.Helper()
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("needs losetup (Debian package mount)")
	}
	backing = filepath.Join(t.TempDir(), "disk.img")
	data := make([]byte, 1<<20)
	copy(data, content)
	if err := os.WriteFile(backing, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device for the test: losetup --find --show: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	if unix.Major(st.Rdev) != 7 {
		t.Fatalf("%s is %d:%d, not a loop device", dev, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return unix.Minor(st.Rdev), backing
}
