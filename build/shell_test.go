package build

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"time"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
)

// TestShellKeepPartialQA: keeping a shell opened with p (on a failed RUN's
// partial result) keeps both the partial result and the shell's change.
// Both diffs used to be written to the same layer.tar, so Keep failed
// ("chmod …/layer.tar: no such file") after storing the wrong tar.
func TestShellKeepPartialQA(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the shell runs in the sandbox (CI runs as root)")
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox-static (apt-get install busybox-static)")
	}
	store := newStore(t)
	dir := t.TempDir()
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\n"})
	os.WriteFile(dir+"/busybox", data, 0o755)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	base := snapshots(r)[1]
	// A failed RUN's snapshot: the parent's layers plus the upper dir the
	// failed command left (/partial).
	upper := t.TempDir()
	if err := os.WriteFile(filepath.Join(upper, "partial"), []byte("left by the failed step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := &event.Snapshot{Layers: base.Layers, Config: base.Config.DeepCopy(), Parent: base, Step: base.Step, UpperDir: upper}
	failed.Config.Config.Shell = []string{"/bin/busybox", "sh", "-c"}
	be := snapshot.NewBackend(store, nil)
	sh, err := be.Shell(failed, snapshot.ShellOptions{Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sh.SetStdin(strings.NewReader("/bin/busybox cat /partial; echo typed > /typed\n"))
	sh.SetStdout(&out)
	sh.SetStderr(&out)
	if err := sh.Run(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "left by the failed step") {
		t.Errorf("the shell does not see the partial result:\n%s", out.String())
	}
	kept, _, err := sh.Keep()
	if err != nil {
		t.Fatalf("Keep: %v", err)
	}
	if len(kept.Layers) != len(base.Layers)+2 {
		t.Errorf("kept snapshot has %d layers, want %d (base, partial result, shell)", len(kept.Layers), len(base.Layers)+2)
	}
	for p, want := range map[string]string{"/partial": "left by the failed step\n", "/typed": "typed\n"} {
		if b, err := be.ReadFile(kept, p, 100); err != nil || string(b) != want {
			t.Errorf("%s in the kept snapshot: %q %v, want %q", p, b, err, want)
		}
	}
	for _, id := range kept.Layers {
		f, err := store.OpenBlob(id)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != id.Hex {
			t.Errorf("blob %s holds content with digest %s", id, got)
		}
	}
}

// The debug shell's history dir is bind-mounted into the container, which
// may put anything there: a symlink to a host file, a fifo, a huge file.
// strata reads the typed commands back from it on the host, so what the
// container left is read as data in that dir, never followed.
func TestShellHistoryNeverFollowsTheContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the shell runs in the sandbox (CI runs as root)")
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox-static (apt-get install busybox-static)")
	}
	store := newStore(t)
	dir := t.TempDir()
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\n"})
	os.WriteFile(dir+"/busybox", data, 0o755)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	base := snapshots(r)[1]
	base.Config.Config.Shell = []string{"/bin/busybox", "sh", "-c"}
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:host-secret-hash:19000::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, script string }{
		{"typed is a file (ash's history)", "echo '    1  make all' > " + snapshot.HistoryDir + "/typed"},
		{"typed is a symlink to a host file", "/bin/busybox ln -s " + secret + " " + snapshot.HistoryDir + "/typed"},
		{"history is a symlink to a host file", "/bin/busybox ln -s " + secret + " " + snapshot.HistoryDir + "/history"},
		{"typed is a fifo", "/bin/busybox mkfifo " + snapshot.HistoryDir + "/typed"},
		{"history is a fifo", "/bin/busybox mkfifo " + snapshot.HistoryDir + "/history"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := snapshot.NewBackend(store, nil)
			sh, err := be.Shell(base, snapshot.ShellOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer sh.Discard()
			var out strings.Builder
			sh.SetStdin(strings.NewReader(tc.script + "\n"))
			sh.SetStdout(&out)
			sh.SetStderr(&out)
			if err := sh.Run(); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			done := make(chan string, 1)
			go func() { done <- strings.Join(sh.Commands(), "\n") + "\n" + sh.RunLine() }()
			var got string
			select {
			case got = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("reading the shell's history hangs on what the container left there")
			}
			if strings.Contains(tc.script, "make all") && got != "make all\nRUN make all" {
				t.Errorf("the typed commands are not read back: %q", got)
			}
			if strings.Contains(got, "host-secret") {
				t.Fatalf("the shell's commands hold the host file's content: %q", got)
			}
			kept, _, err := sh.Keep()
			if err != nil {
				t.Fatalf("Keep: %v", err)
			}
			for _, h := range kept.Config.History {
				if strings.Contains(h.CreatedBy, "host-secret") {
					t.Fatalf("the kept step's history holds the host file's content: %q", h.CreatedBy)
				}
			}
		})
	}
}
