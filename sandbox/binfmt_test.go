package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckEmulator(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CheckEmulator(dir, "aarch64"); err == nil || !strings.Contains(err.Error(), "binfmt_misc is not mounted") && !strings.Contains(err.Error(), "no binfmt_misc") {
		t.Errorf("no register file: %v", err)
	}
	write("register", "")
	_, err := CheckEmulator(dir, "aarch64")
	if err == nil || !strings.Contains(err.Error(), "no binfmt_misc handler qemu-aarch64") || !strings.Contains(err.Error(), "apt-get install qemu-user-static binfmt-support") {
		t.Errorf("no handler: %v", err)
	}
	write("qemu-aarch64", "disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n")
	if _, err := CheckEmulator(dir, "aarch64"); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled handler: %v", err)
	}
	write("qemu-aarch64", "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: P\noffset 0\n")
	if _, err := CheckEmulator(dir, "aarch64"); err == nil || !strings.Contains(err.Error(), "lacks the F flag") {
		t.Errorf("no F flag: %v", err)
	}
	write("qemu-aarch64", "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n")
	em, err := CheckEmulator(dir, "aarch64")
	if err != nil || !em.Fixed || em.Interpreter != "/usr/libexec/qemu-binfmt/aarch64-binfmt-P" {
		t.Errorf("good handler: %+v, %v", em, err)
	}
	write("qemu-arm", "enabled\ninterpreter /x\nflags: P\n")
	if got := Emulators(dir); len(got) != 1 || got[0].Arch != "aarch64" {
		t.Errorf("Emulators = %+v, want only aarch64 (arm lacks F)", got)
	}
}
