package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The image's /dev, /proc or /dev/null may be a symlink with an absolute
// target. Inside the container that target is a path of the image; on the
// host, where the init prepares the root before pivot_root, it is a path of
// the host. Every path the init builds below the root must be the one it
// resolved inside the root, never the root's host path joined with a name.

// hostTree makes a host directory with the given files (a key ending in /
// is a directory) and returns it with a function listing it.
func hostTree(t *testing.T, files map[string]string) (string, func() string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "host")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := func() string {
		var b strings.Builder
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				b.WriteString("error " + err.Error() + "\n")
				return nil
			}
			data := ""
			if fi.Mode().IsRegular() {
				d, _ := os.ReadFile(p)
				data = string(d)
			}
			b.WriteString(p + " " + fi.Mode().String() + " " + fi.ModTime().String() + " " + data + "\n")
			return nil
		})
		return b.String()
	}
	return dir, list
}

// linkInImage makes name in the lower dir a symlink to target (absolute),
// with target a directory of the image too, so it resolves inside the root.
func linkInImage(t *testing.T, lower, name, target string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(lower, target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(lower, name)); err != nil {
		t.Fatal(err)
	}
}

// An image whose /dev is a symlink to an absolute path: the device nodes,
// /dev/pts, /dev/shm and the /dev/fd links are made in the image's dir of
// that name, never in the host's.
func TestDevSymlinkStaysInRoot(t *testing.T) {
	lower := busyboxRootfs(t)
	host, list := hostTree(t, map[string]string{"keep": "host file"})
	linkInImage(t, lower, "dev", host)
	before := list()
	r := run(t, newSpec(t, lower, "sh", "-c", "echo hi > /dev/null && ls /dev/"))
	if after := list(); after != before {
		t.Fatalf("the host dir changed (run: %d, %v, %s):\nbefore:\n%s\nafter:\n%s", r.code, r.err, r.stderr, before, after)
	}
	if r.err == nil && r.code == 0 && !strings.Contains(r.stdout, "null") {
		t.Errorf("ran, but /dev has no null: %q", r.stdout)
	}
}

// An image whose /proc is a symlink to an absolute path: the read-only
// binds of /proc/sys, /proc/bus... bind the container's own procfs dirs,
// never the host dirs of that name (which would show the container the
// host's files).
func TestProcSymlinkStaysInRoot(t *testing.T) {
	lower := busyboxRootfs(t)
	host, list := hostTree(t, map[string]string{
		"sys/secret": "host secret", "bus/": "", "fs/": "", "irq/": "", "sysrq-trigger": "",
	})
	linkInImage(t, lower, "proc", host)
	before := list()
	r := run(t, newSpec(t, lower, "sh", "-c", "cat /proc/sys/secret; ls /proc/sys"))
	if strings.Contains(r.stdout, "host secret") || strings.Contains(r.stdout, "secret") {
		t.Fatalf("the container read the host's file through /proc -> %s: %q", host, r.stdout)
	}
	if after := list(); after != before {
		t.Fatalf("the host dir changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if r.err == nil && !strings.Contains(r.stdout, "kernel") {
		t.Errorf("ran, but /proc/sys is not the container's procfs: %q %q", r.stdout, r.stderr)
	}
}
