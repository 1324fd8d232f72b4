package sandbox

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOverlayMount: an "overlay" mount stacks its lower dirs (whiteouts
// hide), binds a path of it, read-only or writable with the writes thrown
// away; its source resolves inside the overlay only; nothing stays.
func TestOverlayMount(t *testing.T) {
	lower := busyboxRootfs(t)
	top, bottom := t.TempDir(), t.TempDir()
	write := func(dir, p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(bottom, "out/file", "bottom\n")
	write(bottom, "out/only-bottom", "b\n")
	write(bottom, "out/deleted", "should be hidden\n")
	write(top, "out/file", "top\n")
	if err := unix.Mknod(filepath.Join(top, "out/deleted"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"/out", "abs"}, {"../../../../../etc", "escape"}} {
		if err := os.Symlink(l[0], filepath.Join(top, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func() []string {
		var out []string
		for _, d := range []string{top, bottom} {
			out = append(out, upperEntries(t, d)...)
		}
		return out
	}
	before := snapshot()

	spec := newSpec(t, lower, "sh", "-c", `set -e
cat /in/file /in/only-bottom
test ! -e /in/deleted
if echo x > /in/new 2>/dev/null; then echo ro-writable; fi
echo changed > /rw/file; rm /rw/only-bottom; echo new > /rw/new; cat /rw/file /rw/new
cat /viasymlink/file
cat /single
ls -A /empty | wc -l; echo e > /empty/f
grep -c ' /in ' /proc/self/mountinfo`)
	spec.Mounts = []Mount{
		{Type: "overlay", Lower: []string{top, bottom}, Source: "/out", Target: "/in", ReadOnly: true},
		{Type: "overlay", Lower: []string{top, bottom}, Source: "out", Target: "/rw"},
		{Type: "overlay", Lower: []string{top, bottom}, Source: "/abs", Target: "/viasymlink", ReadOnly: true},
		{Type: "overlay", Lower: []string{top, bottom}, Source: "/out/file", Target: "/single", ReadOnly: true},
		{Type: "overlay", Target: "/empty"},
	}
	r := mustRun(t, spec)
	if want := "top\nb\nchanged\nnew\ntop\ntop\n0\n1\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q (stderr %q)", r.stdout, want, r.stderr)
	}
	if after := snapshot(); !reflect.DeepEqual(after, before) {
		t.Errorf("lower dirs changed: %v -> %v", before, after)
	}
	if b, _ := os.ReadFile(filepath.Join(bottom, "out/file")); string(b) != "bottom\n" {
		t.Errorf("bottom out/file = %q", b)
	}
	if e := upperEntries(t, spec.Upper); len(e) != 0 {
		t.Errorf("upper holds mount points or mount contents: %v", e)
	}

	// A symlink leading out of the overlay stays inside it: /etc of the
	// overlay does not exist, the host's is never reached.
	spec = newSpec(t, lower, "cat", "/x")
	spec.Mounts = []Mount{{Type: "overlay", Lower: []string{top}, Source: "/escape/passwd", Target: "/x", ReadOnly: true}}
	if r := run(t, spec); r.err == nil || !strings.Contains(r.err.Error(), "/escape/passwd") {
		t.Errorf("source through an escaping symlink: %d %v %q", r.code, r.err, r.stdout)
	}
	spec = newSpec(t, lower, "true")
	spec.Mounts = []Mount{{Type: "overlay", Lower: []string{"relative"}, Target: "/x"}}
	if r := run(t, spec); r.err == nil || !strings.Contains(r.err.Error(), "absolute") {
		t.Errorf("relative lower: %v", r.err)
	}
}
