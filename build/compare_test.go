package build

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/build/snapshot"
	"github.com/strata-build/strata/layers"
)

func snapshots(r *buildRun) map[int]*event.Snapshot {
	m := map[int]*event.Snapshot{}
	for _, ev := range r.events {
		switch ev := ev.(type) {
		case event.StepDone:
			m[ev.Step] = ev.Snapshot
		case event.StepCached:
			m[ev.Step] = ev.Snapshot
		}
	}
	return m
}

func changeList(cs []layers.Change) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s %s", c.Kind, c.Path))
	}
	return strings.Join(parts, ", ")
}

// TestCompare: across steps of one build (merged change lists, both
// directions) and across two builds (a walk of both trees).
func TestCompare(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a b /d/\nENV X=1\nCOPY c /d/b\nCOPY a /e\n",
		"a":          "a", "b": "b", "c": "new b",
	})
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	snaps := snapshots(r)
	b := snapshot.NewBackend(store, nil)
	got, err := b.Compare(snaps[1], snaps[4])
	if err != nil {
		t.Fatal(err)
	}
	if s := changeList(got); s != "modified /d, modified /d/b, added /e" {
		t.Errorf("step 2 → step 5: %s", s)
	}
	got, err = b.Compare(snaps[4], snaps[1])
	if err != nil {
		t.Fatal(err)
	}
	if s := changeList(got); s != "modified /d, modified /d/b, deleted /e" {
		t.Errorf("step 5 → step 2: %s", s)
	}
	if got, _ := b.Compare(snaps[0], snaps[4]); changeList(got) != "added /d, added /d/a, added /d/b, added /e" {
		t.Errorf("FROM → end: %s", changeList(got))
	}

	// Another build of a changed context: not an ancestor, so walked.
	os.WriteFile(dir+"/a", []byte("aa"), 0o644)
	r2 := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	got, err = b.Compare(snaps[4], snapshots(r2)[4])
	if err != nil {
		t.Fatal(err)
	}
	if s := changeList(got); s != "modified /d/a, modified /e" {
		t.Errorf("build 1 → build 2: %s", s)
	}

	cc := snapshot.DiffConfig(snaps[1].Config, snaps[2].Config)
	if len(cc) != 1 || cc[0].Field != "Env X" || cc[0].Old != "" || cc[0].New != "1" {
		t.Errorf("DiffConfig %+v", cc)
	}
}

// TestShellKeep: a shell on a snapshot sees it; what it changes becomes
// a new snapshot only when kept; nothing stays mounted.
func TestShellKeep(t *testing.T) {
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
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\nCOPY made /etc/made\n", "made": "by COPY\n"})
	os.WriteFile(dir+"/busybox", data, 0o755)
	r := buildIn(t, store, frontend.Options{ContextDir: dir}, nil).mustOK(t)
	snap := snapshots(r)[2]
	be := snapshot.NewBackend(store, nil)
	sh, err := be.Shell(snap, snapshot.ShellOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sh.SetStdin(strings.NewReader("sh -c 'cat /etc/made; echo kept > /new; rm /etc/made'\n"))
	sh.SetStdout(&out)
	sh.SetStderr(&out)
	// busybox with no applet name reads no script: run its shell applet.
	snap.Config.Config.Shell = []string{"/bin/busybox", "sh", "-c"}
	if err := sh.Run(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "by COPY") {
		t.Errorf("the shell does not see the snapshot:\n%s", out.String())
	}
	cs, err := sh.Changes()
	if err != nil {
		t.Fatal(err)
	}
	if s := changeList(cs); s != "modified /etc, deleted /etc/made, added /new" {
		t.Errorf("shell changes: %s", s)
	}
	kept, _, err := sh.Keep()
	if err != nil {
		t.Fatal(err)
	}
	if len(kept.Layers) != len(snap.Layers)+1 || kept.Parent != snap {
		t.Errorf("kept snapshot layers %d (parent has %d)", len(kept.Layers), len(snap.Layers))
	}
	if b, err := be.ReadFile(kept, "/new", 100); err != nil || string(b) != "kept\n" {
		t.Errorf("/new in the kept snapshot: %q %v", b, err)
	}
	if _, err := be.ReadFile(kept, "/etc/made", 100); err == nil {
		t.Errorf("/etc/made survives in the kept snapshot")
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), store.Root()) {
		t.Errorf("a mount under the store remains:\n%s", mi)
	}
}
