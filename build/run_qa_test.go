package build

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// TestRunOnRepeatedLayerQA: two steps that make the very same layer (the
// same file copied twice) put one layer dir twice in the chain; overlayfs
// refuses a lowerdir= that names a dir twice ("too many levels of
// symbolic links"), so every RUN after them failed. Docker builds this.
func TestRunOnRepeatedLayerQA(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: RUN uses the sandbox (CI runs as root)")
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox-static (apt-get install busybox-static)")
	}
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("the sandbox is not supported here")
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\nCOPY f /d/\nCOPY busybox /bin/busybox\nCOPY f /d/\nRUN [\"/bin/busybox\", \"cat\", \"/d/f\"]\n",
		"f":          "same\n",
	})
	os.WriteFile(dir+"/busybox", data, 0o755)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, runner).mustOK(t)
	ids := r.cfg().RootFS.DiffIDs
	if len(ids) != 4 || ids[0] != ids[2] || ids[1] != ids[3] {
		t.Fatalf("layers %v: want the same two layers twice (the test's premise)", ids)
	}
	var out []string
	for _, ev := range r.events {
		if l, ok := ev.(event.StepLog); ok && l.Stream == "stdout" {
			out = append(out, l.Line)
		}
	}
	if !strings.Contains(strings.Join(out, "\n"), "same") {
		t.Errorf("RUN output %q, want the file's content", out)
	}
}
