package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/assets"
)

// strataCgroups lists the strata- cgroup dirs below this process's cgroups
// (which the strata it starts inherits), in every hierarchy mounted under
// /sys/fs/cgroup (v1 controllers, a hybrid host's unified, or v2 itself).
func strataCgroups(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var dirs []string
		if f[1] == "" {
			dirs = []string{"/sys/fs/cgroup" + f[2], "/sys/fs/cgroup/unified" + f[2]}
		} else {
			for _, c := range strings.Split(f[1], ",") {
				dirs = append(dirs, "/sys/fs/cgroup/"+strings.TrimPrefix(c, "name=")+f[2])
			}
		}
		for _, d := range dirs {
			m, _ := filepath.Glob(filepath.Join(d, "strata-*"))
			for _, p := range m {
				out[p] = true
			}
		}
	}
	return out
}

// TestSweepAfterKill: a strata killed with SIGKILL during a RUN leaves the
// run's cgroups behind (its container dies with it); the next strata
// removes them at start, as it does the scratch dirs.
func TestSweepAfterKill(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(ctx, 0o755)
	assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar"))
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\nRUN echo started && sleep 6012\n"), 0o644)
	root := filepath.Join(tmp, "root")
	before := strataCgroups(t)
	cmd := exec.Command(strataBin, "build", "--root", root, ctx)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if sc.Text() == "started" {
			break
		}
	}
	cmd.Process.Kill()
	go func() {
		for sc.Scan() {
		}
	}()
	cmd.Wait()
	// The container dies with strata (PR_SET_PDEATHSIG on its init).
	deadline := time.Now().Add(10 * time.Second)
	for {
		alive := false
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), "sleep\x006012") {
				alive = true
			}
		}
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the RUN's sleep outlived the SIGKILLed strata by 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Only the killed strata's own cgroups (named with its pid): a cgroup
	// of another process of this test binary (alive, so rightly kept by
	// the sweep) is none of this test's business.
	var left []string
	killed := "-" + strconv.Itoa(cmd.Process.Pid)
	for p := range strataCgroups(t) {
		if !before[p] && strings.HasSuffix(p, killed) {
			left = append(left, p)
		}
	}
	if len(left) == 0 {
		t.Fatalf("the killed build left no cgroup, so this test proves nothing; output: %v", seen)
	}
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\n"), 0o644)
	mustStrata(t, "build", "--root", root, ctx)
	for _, p := range left {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("cgroup %s of the killed strata is still there after the next start (%v)", p, err)
			for i := 0; i < 100 && os.Remove(p) != nil; i++ {
				time.Sleep(50 * time.Millisecond) // until its dead init is reaped
			}
		}
	}
	checkClean(t, root)
}
