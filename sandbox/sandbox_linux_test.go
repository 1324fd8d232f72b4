package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testID = "0123456789abcdef0123456789abcdef"

func TestExitCodes(t *testing.T) {
	lower := busyboxRootfs(t)
	tests := []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"exit 255", 255},
		{"sh -c 'kill -9 $$'; exit $?", 137}, // the shell's own report of a killed child
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			r := run(t, newSpec(t, lower, "sh", "-c", tt.script))
			if r.err != nil || r.code != tt.want {
				t.Fatalf("exit code = %d, %v; want %d", r.code, r.err, tt.want)
			}
		})
	}
}

// TestKilledFromOutside: the command (PID 1 of its namespace) killed by a
// signal gives 128+signal.
func TestKilledFromOutside(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sleep", "6012")
	done := make(chan result)
	go func() { done <- run(t, spec) }()
	var pids []string
	for deadline := time.Now().Add(10 * time.Second); len(pids) == 0; pids = findProcs("sleep\x006012") {
		if time.Now().After(deadline) {
			t.Fatal("sleep never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	pid, _ := strconv.Atoi(pids[0])
	// PID 1 of a namespace only gets the signals it handles, and SIGKILL.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.code != 128+int(syscall.SIGKILL) {
		t.Fatalf("Run = %d, %v; want 137", r.code, r.err)
	}
}

func TestOutputStreams(t *testing.T) {
	lower := busyboxRootfs(t)
	r := mustRun(t, newSpec(t, lower, "sh", "-c", "echo out; echo err >&2"))
	if r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func TestCommandNotFound(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "no-such-command", "x")
	r := run(t, spec)
	var execErr *ExecError
	if !errors.As(r.err, &execErr) || r.code != 127 {
		t.Fatalf("Run = %d, %v; want 127 and an *ExecError", r.code, r.err)
	}
	if want := `exec: "no-such-command": executable file not found in $PATH`; r.err.Error() != want {
		t.Fatalf("error %q, want %q", r.err, want)
	}
	if e := upperEntries(t, spec.Upper); len(e) != 0 {
		t.Fatalf("upper not clean after failed exec: %v", e)
	}

	r = run(t, newSpec(t, lower, "/etc/passwd"))
	if !errors.As(r.err, &execErr) || r.code != 126 {
		t.Fatalf("exec of a non-executable = %d, %v; want 126", r.code, r.err)
	}
}

func TestEnv(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", `echo "$PATH|$HOME|$FOO"`)
	spec.Env = []string{"FOO=bar"}
	if r := mustRun(t, spec); r.stdout != DefaultPath+"|/root|bar\n" {
		t.Fatalf("got %q", r.stdout)
	}
	spec = newSpec(t, lower, "sh", "-c", `echo "$PATH|$HOME"`)
	spec.Env = []string{"PATH=/bin", "HOME=/x"}
	spec.User = "app"
	if r := mustRun(t, spec); r.stdout != "/bin|/x\n" {
		t.Fatalf("got %q", r.stdout)
	}
}

func TestWorkdir(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", "pwd; touch f")
	spec.Dir = "/work/dir"
	spec.User = "app"
	if r := mustRun(t, spec); r.stdout != "/work/dir\n" {
		t.Fatalf("pwd = %q", r.stdout)
	}
	st, err := os.Stat(filepath.Join(spec.Upper, "work/dir/f"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscallStat).Uid; uid != 1000 {
		t.Fatalf("file owned by %d, want 1000", uid)
	}
	for _, d := range []string{"work", "work/dir"} {
		st, err := os.Stat(filepath.Join(spec.Upper, d))
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Sys().(*syscallStat); s.Uid != 1000 || s.Gid != 1000 || st.Mode().Perm() != 0o755 {
			t.Fatalf("%s: %v %d:%d, want 0755 1000:1000", d, st.Mode(), s.Uid, s.Gid)
		}
	}

	spec = newSpec(t, lower, "true")
	spec.Dir = "/etc/passwd"
	if r := run(t, spec); r.err == nil || !strings.Contains(r.err.Error(), "not a directory") {
		t.Fatalf("workdir on a file: %d, %v", r.code, r.err)
	}
}

func TestUsers(t *testing.T) {
	lower := busyboxRootfs(t)
	tests := []struct {
		user           string
		uid, gid       int
		groups         []int
		capEff, capPrm string
	}{
		{"", 0, 0, []int{0, 10}, "00000000a80425fb", "00000000a80425fb"},
		{"app", 1000, 1000, []int{10, 1000, 2000, 2001}, "0000000000000000", "0000000000000000"},
		{"1000:2000", 1000, 2000, []int{2000}, "0000000000000000", "0000000000000000"},
		{"nobody", 65534, 65534, []int{65534}, "0000000000000000", "0000000000000000"},
		{"4242:4343", 4242, 4343, []int{4343}, "0000000000000000", "0000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			spec := newSpec(t, lower)
			spec.User = tt.user
			rep := runReport(t, spec)
			// The primary group is a supplementary group too (Docker,
			// BuildKit since CVE-2023-25173).
			groups := append([]int(nil), rep.Groups...)
			slices.Sort(groups)
			if rep.UID != tt.uid || rep.EUID != tt.uid || rep.GID != tt.gid || !reflect.DeepEqual(groups, tt.groups) {
				t.Fatalf("uid %d euid %d gid %d groups %v; want %d %d %v", rep.UID, rep.EUID, rep.GID, groups, tt.uid, tt.gid, tt.groups)
			}
			if rep.CapBnd != "00000000a80425fb" || rep.CapEff != tt.capEff || rep.CapPrm != tt.capPrm || rep.CapInh != "0000000000000000" || rep.CapAmb != "0000000000000000" {
				t.Fatalf("caps: eff %s prm %s bnd %s inh %s amb %s", rep.CapEff, rep.CapPrm, rep.CapBnd, rep.CapInh, rep.CapAmb)
			}
		})
	}

	spec := newSpec(t, lower, "true")
	spec.User = "nosuch"
	r := run(t, spec)
	if r.err == nil || !strings.Contains(r.err.Error(), "unable to find user nosuch: no matching entries in passwd file") {
		t.Fatalf("unknown user: %d, %v", r.code, r.err)
	}
	if e := upperEntries(t, spec.Upper); len(e) != 0 {
		t.Fatalf("upper not clean after a setup error: %v", e)
	}
}

// TestSetuidProgram: a setuid-root program run by a non-root user gets euid 0
// and the capabilities of the bounding set, as in Docker (no_new_privs off):
// sudo, su and setuid ping work in RUN steps.
func TestSetuidProgram(t *testing.T) {
	lower := busyboxRootfs(t)
	suid := filepath.Join(lower, "bin/report-suid")
	copyFile(t, buildReport(t), suid, 0o755)
	if err := os.Chmod(suid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(t, lower, "/bin/report-suid")
	spec.User = "nobody"
	r := mustRun(t, spec)
	var rep reportT
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report output: %v\n%s", err, r.stdout)
	}
	if rep.UID != 65534 || rep.EUID != 0 {
		t.Errorf("setuid program as nobody: uid %d euid %d, want 65534 0", rep.UID, rep.EUID)
	}
	if rep.NoNewPrivs != "0" || rep.CapEff != "00000000a80425fb" || rep.CapBnd != "00000000a80425fb" {
		t.Errorf("setuid program: NoNewPrivs %s CapEff %s CapBnd %s, want 0 and Docker's default set a80425fb", rep.NoNewPrivs, rep.CapEff, rep.CapBnd)
	}
}

func TestIsolation(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower)
	spec.ID = testID
	rep := runReport(t, spec)
	if rep.Pid != 1 {
		t.Errorf("pid %d, want 1 (new PID namespace)", rep.Pid)
	}
	if !reflect.DeepEqual(rep.Procs, []int{1}) {
		t.Errorf("visible processes %v, want only [1]", rep.Procs)
	}
	if rep.Hostname != testID[:12] {
		t.Errorf("hostname %q, want %q", rep.Hostname, testID[:12])
	}
	if rep.NoNewPrivs != "0" {
		t.Errorf("NoNewPrivs %q, want 0 (Docker leaves no_new_privs off)", rep.NoNewPrivs)
	}
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	if rep.NoFile != "Max open files 1048576 1048576 files" && rep.NoFile != fmt.Sprintf("Max open files %d %d files", rl.Max, rl.Max) {
		t.Errorf("rlimit: %q", rep.NoFile)
	}
	if rep.Cwd != "/" {
		t.Errorf("cwd %q", rep.Cwd)
	}
	// docker run's environment: HOSTNAME is the hostname.
	if !slices.Contains(rep.Env, "HOSTNAME="+testID[:12]) {
		t.Errorf("env %v lacks HOSTNAME=%s", rep.Env, testID[:12])
	}
	for _, m := range []string{"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc/keys", "/proc/sys"} {
		if !slices.Contains(rep.Mounts, m) {
			t.Errorf("mount %s missing: %v", m, rep.Mounts)
		}
	}
	for _, m := range rep.Mounts {
		if strings.Contains(m, "strata-run") || strings.HasPrefix(m, "/tmp/") {
			t.Errorf("host path visible as a mount: %s", m)
		}
	}
	if rep.WroteRoot != "" {
		t.Errorf("writing / failed: %s", rep.WroteRoot)
	}
	if _, err := os.Stat(filepath.Join(spec.Upper, "report-was-here")); err != nil {
		t.Errorf("write to / did not land in upper: %v", err)
	}
	if _, err := os.Stat("/report-was-here"); err == nil {
		t.Errorf("write to / of the container changed the host")
	}
	if _, err := os.Stat(filepath.Join(lower, "report-was-here")); err == nil {
		t.Errorf("write to / of the container changed the lower dir")
	}
	// Upper holds exactly what the command changed.
	if e := upperEntries(t, spec.Upper); !reflect.DeepEqual(e, []string{"report-was-here"}) {
		t.Errorf("upper = %v, want only report-was-here", e)
	}
}

func TestDevAndEtc(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", `set -e
for d in null zero full random urandom tty; do test -c /dev/$d; done
test -L /dev/ptmx; test -c /dev/pts/ptmx; test -L /dev/fd; test -L /dev/stdin
echo x > /dev/null
head -c 4 /dev/zero | wc -c
cat /etc/hostname
grep -c localhost /etc/hosts
test -s /etc/resolv.conf || echo empty-resolv
touch /sys/x 2>/dev/null && echo sys-writable
cat /proc/keys | wc -c
echo 1 > /proc/sys/kernel/hostname 2>/dev/null && echo procsys-writable
test -L /dev/core && test ! -e /dev/core && echo dangling-dev-core
exit 0`)
	spec.Hostname = "builder"
	r := mustRun(t, spec)
	if r.stdout != "4\nbuilder\n2\n0\n" {
		t.Fatalf("got %q (stderr %q)", r.stdout, r.stderr)
	}
}

// TestBuildEtc: a BuildKit RUN step's /etc: read-only hosts naming the
// hostname and resolv.conf, and the image's own /etc/hostname, which the
// command can write like any file.
func TestBuildEtc(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", `cat /etc/hosts
echo x >> /etc/hosts 2>/dev/null || echo hosts-ro
echo x >> /etc/resolv.conf 2>/dev/null || echo resolv-ro
test -e /etc/hostname || echo no-hostname-file
echo myhost > /etc/hostname
hostname
env | grep ^HOSTNAME= || echo HOSTNAME=unset`)
	spec.Hostname = "buildkitsandbox"
	spec.BuildEtc = true
	r := mustRun(t, spec)
	want := "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"hosts-ro\nresolv-ro\nno-hostname-file\nbuildkitsandbox\nHOSTNAME=unset\n"
	if r.stdout != want {
		t.Fatalf("got %q, want %q (stderr %q)", r.stdout, want, r.stderr)
	}
	if e := upperEntries(t, spec.Upper); !reflect.DeepEqual(e, []string{"etc", "etc/hostname"}) {
		t.Errorf("upper = %v, want only etc/hostname (no hosts or resolv.conf stubs)", e)
	}
	if b, _ := os.ReadFile(filepath.Join(spec.Upper, "etc/hostname")); string(b) != "myhost\n" {
		t.Errorf("etc/hostname in upper: %q", b)
	}
}

func TestNetworkNone(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower)
	spec.Network = "none"
	rep := runReport(t, spec)
	if !reflect.DeepEqual(rep.Netdevs, []string{"lo"}) {
		t.Fatalf("network devices %v, want [lo]", rep.Netdevs)
	}
	spec = newSpec(t, lower, "cat", "/sys/class/net/lo/flags")
	spec.Network = "none"
	if r := mustRun(t, spec); r.stdout != "0x9\n" { // IFF_UP|IFF_LOOPBACK
		t.Fatalf("lo flags %q, want 0x9 (up)", r.stdout)
	}
}

func TestMounts(t *testing.T) {
	lower := busyboxRootfs(t)
	data := t.TempDir()
	ro := t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "file"), []byte("read me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(t, lower, "sh", "-c", `set -e
echo written > /mnt/data/new
cat /mnt/ro/file
if echo no > /mnt/ro/file2 2>/dev/null; then echo ro-writable; fi
echo tmp > /scratch/f; cat /scratch/f
grep ' /scratch ' /proc/self/mountinfo | grep -q 'size=1024k'
cat /single`)
	spec.Mounts = []Mount{
		{Type: "bind", Source: data, Target: "/mnt/data"},
		{Type: "bind", Source: ro, Target: "/mnt/ro", ReadOnly: true},
		{Type: "tmpfs", Target: "/scratch", Options: []string{"size=1m", "mode=1777"}},
		{Type: "bind", Source: filepath.Join(ro, "file"), Target: "/single", ReadOnly: true},
	}
	r := mustRun(t, spec)
	if r.stdout != "read me\ntmp\nread me\n" {
		t.Fatalf("got %q (stderr %q)", r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(data, "new")); err != nil || string(b) != "written\n" {
		t.Fatalf("bind write: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "file2")); err == nil {
		t.Fatal("read-only bind was written")
	}
	if e := upperEntries(t, spec.Upper); len(e) != 0 {
		t.Fatalf("upper holds mount points or mount contents: %v", e)
	}

	spec = newSpec(t, lower, "true")
	spec.Mounts = []Mount{{Type: "bind", Source: "/no/such/source", Target: "/x"}}
	if r := run(t, spec); r.err == nil || !strings.Contains(r.err.Error(), "/no/such/source") {
		t.Fatalf("missing bind source: %v", r.err)
	}
}

func TestUpperClean(t *testing.T) {
	lower := busyboxRootfs(t)
	lowerEtc, _ := os.Stat(filepath.Join(lower, "etc"))
	spec := newSpec(t, lower, "true")
	upperBefore, _ := os.Stat(spec.Upper)
	mustRun(t, spec)
	if e := upperEntries(t, spec.Upper); len(e) != 0 {
		t.Fatalf("upper after `true` = %v, want empty", e)
	}
	if st, _ := os.Stat(spec.Upper); !st.ModTime().Equal(upperBefore.ModTime()) {
		t.Errorf("upper root mtime changed: %v -> %v", upperBefore.ModTime(), st.ModTime())
	}

	spec = newSpec(t, lower, "sh", "-c", "echo hi > /etc/motd; mkdir /newdir; rm /bin/yes")
	mustRun(t, spec)
	want := []string{"bin", "bin/yes", "etc", "etc/motd", "newdir"}
	if e := upperEntries(t, spec.Upper); !reflect.DeepEqual(e, want) {
		t.Fatalf("upper = %v, want %v", e, want)
	}
	if st, _ := os.Stat(filepath.Join(lower, "etc")); !st.ModTime().Equal(lowerEtc.ModTime()) {
		t.Errorf("lower /etc changed")
	}
}

func TestScratch(t *testing.T) {
	requireSandbox(t)
	spec := newSpec(t, "", "/bin/sh")
	r := run(t, spec)
	if r.code != 127 || r.err == nil {
		t.Fatalf("scratch: %d, %v; want 127", r.code, r.err)
	}
	if e := upperEntries(t, spec.Upper); len(e) != 0 {
		t.Fatalf("upper after scratch run = %v, want empty", e)
	}
}

func TestStdin(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", "tr a-z A-Z; test -t 0 || echo notty")
	spec.Stdin = strings.NewReader("hello\n")
	if r := mustRun(t, spec); r.stdout != "HELLO\nnotty\n" {
		t.Fatalf("got %q", r.stdout)
	}
}

func TestTty(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", "test -t 0 && test -t 1 && echo isatty; echo TERM=$TERM; read x; echo got:$x")
	spec.Tty = true
	spec.Stdin = strings.NewReader("line\n")
	r := mustRun(t, spec)
	out := strings.ReplaceAll(r.stdout, "\r", "")
	for _, want := range []string{"isatty\n", "TERM=xterm\n", "got:line\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("tty output %q lacks %q", out, want)
		}
	}
}

func TestCgroupLimits(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "cat", "/proc/self/cgroup")
	spec.ID = testID
	spec.PidsLimit = 8
	spec.Memory = 64 << 20
	r := mustRun(t, spec)
	for _, ctrl := range []string{"pids", "memory"} {
		found := false
		for _, line := range strings.Split(r.stdout, "\n") {
			if (strings.Contains(line, ":"+ctrl+":") || strings.HasPrefix(line, "0::")) && strings.HasSuffix(line, "/"+cgroupName(testID)) {
				found = true
			}
		}
		if !found {
			t.Errorf("not in the run's %s cgroup:\n%s", ctrl, r.stdout)
		}
	}

	spec = newSpec(t, lower, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait")
	spec.PidsLimit = 4
	r = run(t, spec)
	if !strings.Contains(r.stderr, "fork") {
		t.Fatalf("pids limit not enforced: %d %v %q", r.code, r.err, r.stderr)
	}
}

func TestCancel(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", "sleep 6011 & sleep 6011")
	spec.ID = testID
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	done := make(chan struct{})
	var code int
	var err error
	go func() {
		defer close(done)
		code, err = Run(ctx, spec, &stdout, &stdout)
	}()
	// Wait until the sleeps run.
	deadline := time.Now().Add(10 * time.Second)
	for len(findProcs("sleep\x006011")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("container never started sleeping")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return 5s after cancellation")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %v to return after cancellation", d)
	}
	if !errors.Is(err, context.Canceled) || code != 137 {
		t.Fatalf("Run = %d, %v; want 137, context.Canceled", code, err)
	}
	if p := findProcs("sleep\x006011"); len(p) != 0 {
		t.Fatalf("processes left: %v", p)
	}
	checkNoLeftovers(t, spec)
	if e := upperEntries(t, spec.Upper); len(e) != 0 {
		t.Fatalf("upper after cancel = %v", e)
	}
}

func TestSetupErrorNamesMount(t *testing.T) {
	requireSandbox(t)
	spec := newSpec(t, "/no/such/lower", "true")
	spec.ID = testID
	r := run(t, spec)
	if r.err == nil {
		t.Fatal("no error for a missing lower dir")
	}
	for _, want := range []string{"mount overlay", `source "overlay"`, "lowerdir=/no/such/lower", "no such file or directory", spec.TmpDir} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("error %q does not mention %q", r.err, want)
		}
	}
}

func TestSweep(t *testing.T) {
	requireSandbox(t)
	tmp := t.TempDir()
	stale := filepath.Join(tmp, runDirPrefix+"dead")
	if err := os.MkdirAll(filepath.Join(stale, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "owner"), []byte("999999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(tmp, runDirPrefix+"live")
	if err := os.MkdirAll(live, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(live, "owner"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(tmp); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale run dir not swept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("live run dir swept")
	}
}

// findProcs returns host pids whose command line starts with prefix.
func findProcs(prefix string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(b), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}
