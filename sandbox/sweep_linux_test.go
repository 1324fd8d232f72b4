package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// deadPid is the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestSweepCgroups: Sweep removes the cgroups of a dead owner (what a
// SIGKILLed strata leaves) in every controller's hierarchy, and keeps this
// process's and those without an owner younger than a minute.
func TestSweepCgroups(t *testing.T) {
	requireSandbox(t)
	parents, err := cgroupParents()
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	dead := cgroupPrefix + "dead00000000-" + strconv.Itoa(deadPid(t))
	live := cgroupName("live00000000")
	young := cgroupPrefix + "0123456789ab" // a name without owner, just made
	for _, p := range parents {
		for _, n := range []string{dead, live, young} {
			d := filepath.Join(p, n)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { removeCgroupDir(d) })
		}
	}
	if got := cgroupOwner(dead); got <= 0 {
		t.Fatalf("cgroupOwner(%q) = %d", dead, got)
	}
	if got := cgroupOwner(live); got != os.Getpid() {
		t.Fatalf("cgroupOwner(%q) = %d, want %d", live, got, os.Getpid())
	}
	if err := Sweep(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for ctrl, p := range parents {
		if _, err := os.Stat(filepath.Join(p, dead)); !os.IsNotExist(err) {
			t.Errorf("%s: the cgroup of a dead owner was not swept: %v", ctrl, err)
		}
		for _, n := range []string{live, young} {
			if _, err := os.Stat(filepath.Join(p, n)); err != nil {
				t.Errorf("%s: %s swept: %v", ctrl, n, err)
			}
		}
	}
}
