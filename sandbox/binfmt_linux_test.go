package sandbox

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	testrootfs "github.com/strata-build/strata/internal/testutil/rootfs"
)

// untar extracts a rootfs tar of directories, files and symlinks (the
// busybox rootfs) into dir.
func untar(t *testing.T, b []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm()|os.ModeSticky&os.FileMode(h.Mode))
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(p, data, os.FileMode(h.Mode).Perm())
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestEmulatedUnderSeccomp runs arm64 programs (Debian's busybox-static,
// the report program built for arm64) in the sandbox on an amd64 host,
// through the qemu-aarch64 binfmt_misc handler (F flag: the interpreter
// is not in the container's root). QEMU's user mode makes host (x86_64)
// syscalls, so the filter, whose only architecture is the host's, sees
// those and decides as for a native program: the same answers as
// TestSeccompInContainer's.
func TestEmulatedUnderSeccomp(t *testing.T) {
	requireSandbox(t)
	if runtime.GOARCH != "amd64" {
		t.Skipf("emulates arm64 on amd64; this is %s", runtime.GOARCH)
	}
	if !BinfmtAvailable() {
		t.Skip("this kernel has no binfmt_misc (CONFIG_BINFMT_MISC): no emulation to test")
	}
	if _, err := CheckEmulator("", "aarch64"); err != nil {
		t.Fatalf("no arm64 emulator: %v", err)
	}
	lower := filepath.Join(t.TempDir(), "lower")
	untar(t, testrootfs.BusyboxArm64Tar(t), lower)
	report := filepath.Join(t.TempDir(), "report")
	cmd := exec.Command("go", "build", "-o", report, "./testdata/report")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build report for arm64: %v\n%s", err, out)
	}
	copyFile(t, report, filepath.Join(lower, "bin/report"), 0o755)

	r := mustRun(t, newSpec(t, lower, "sh", "-c", "uname -m; grep '^Seccomp:' /proc/self/status; mkdir /tmp/d && echo ok > /tmp/d/f && cat /tmp/d/f"))
	if r.stdout != "aarch64\nSeccomp:\t2\nok\n" {
		t.Errorf("arm64 busybox under the filter said:\n%s\nstderr: %s", r.stdout, r.stderr)
	}
	r = mustRun(t, newSpec(t, lower, "report", "syscalls"))
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("report syscalls: %v\n%s", err, r.stdout)
	}
	// The filter's answers reach the arm64 program through QEMU: unshare,
	// socket(AF_VSOCK) and personality(ADDR_NO_RANDOMIZE) are refused
	// with EPERM as for a native one. (QEMU itself answers some calls
	// before the kernel sees them: keyctl ENOSYS, clone with CLONE_NEWUSER
	// EINVAL; those are not the filter's.)
	for name, want := range map[string]string{"unshare": "EPERM", "socket_vsock": "EPERM", "personality_norandom": "EPERM", "getpid": "OK", "socket_unix": "OK", "chdir": "OK"} {
		if got[name] != want {
			t.Errorf("%s from an emulated arm64 program: %s, want %s (all: %v)", name, got[name], want, got)
		}
	}
	if strings.Contains(r.stderr, "exec format error") {
		t.Errorf("exec format error: %s", r.stderr)
	}
}
