package layers

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestModeStringAsLs(t *testing.T) {
	for _, tc := range []struct {
		t    FileType
		m    fs.FileMode
		want string
	}{
		{TypeRegular, 0o755 | fs.ModeSetuid, "-rwsr-xr-x"},
		{TypeRegular, 0o644 | fs.ModeSetuid, "-rwSr--r--"},
		{TypeRegular, 0o2755&0o777 | fs.ModeSetgid, "-rwxr-sr-x"},
		{TypeRegular, 0o644 | fs.ModeSetgid, "-rw-r-Sr--"},
		{TypeDir, 0o777 | fs.ModeSticky, "drwxrwxrwt"},
		{TypeDir, 0o776 | fs.ModeSticky, "drwxrwxrwT"},
		{TypeDir, 0o755, "drwxr-xr-x"},
		{TypeSymlink, 0o777, "lrwxrwxrwx"},
		{TypeChar, 0o666, "crw-rw-rw-"},
		{TypeFIFO, 0o600 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky, "prwS--S--T"},
	} {
		if got := ModeString(tc.t, tc.m); got != tc.want {
			t.Errorf("ModeString(%v, %v) = %s, want %s", tc.t, tc.m, got, tc.want)
		}
	}
}

// The same files, as GNU ls prints them.
func TestModeStringMatchesLs(t *testing.T) {
	if _, err := exec.LookPath("ls"); err != nil {
		t.Skip("needs ls")
	}
	dir := t.TempDir()
	for i, mode := range []uint32{0o4755, 0o4644, 0o2755, 0o2644, 0o1777, 0o1776, 0o7000, 0o7777, 0o644} {
		p := filepath.Join(dir, "f"+string(rune('a'+i)))
		if err := unix.Mknod(p, unix.S_IFREG|0o600, 0); err != nil {
			t.Fatal(err)
		}
		if err := unix.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ls", "-ld", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		syscall.Stat(p, &st)
		m := fs.FileMode(st.Mode & 0o777)
		if st.Mode&syscall.S_ISUID != 0 {
			m |= fs.ModeSetuid
		}
		if st.Mode&syscall.S_ISGID != 0 {
			m |= fs.ModeSetgid
		}
		if st.Mode&syscall.S_ISVTX != 0 {
			m |= fs.ModeSticky
		}
		if want, got := strings.Fields(string(out))[0], ModeString(TypeRegular, m); got != want {
			t.Errorf("mode %o: ls says %s, ModeString %s", mode, want, got)
		}
	}
}
