package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/strata-build/strata/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-build/strata/assets"
)

// TestRunSteps checks what RUN steps leave in the image (through umoci and
// podman): shell vs exec form, SHELL, ENV and ARG visible in RUN, WORKDIR,
// USER by name and by uid:gid, deletions of base and earlier-step files
// (whiteouts), a removed and recreated directory (opaque), hardlinks,
// symlinks, setuid bits and chowns.
func TestRunSteps(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "skopeo", "umoci")
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(ctx, 0o755)
	if err := assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	df := `FROM scratch
ADD rootfs.tar /
ARG WHO=world
ENV GREETING=hello
WORKDIR /w
RUN echo "$GREETING $WHO" > shell.txt && mkdir -p d/keep && echo old > d/keep/f && echo gone > tmpfile
RUN ["/bin/sh", "-c", "echo exec > exec.txt"]
RUN rm tmpfile /etc/os-release && rm -rf d && mkdir -p d/new && echo new > d/new/f
RUN echo data > h1 && ln h1 h2 && ln -s h1 s1 && cp /bin/busybox suid && chmod 4755 suid && echo mine > owned && chown 1000:50 owned && mkfifo fifo
SHELL ["/bin/sh", "-ec"]
RUN echo "shell is $0" > shellname.txt
USER app
RUN id -u > /tmp/uid-name.txt && id -G > /tmp/groups.txt && grep -E '^(Groups|NoNewPrivs):' /proc/self/status > /tmp/status.txt && hostname > /tmp/hostname.txt
USER 1000:50
RUN id > /tmp/uid-num.txt
USER root
RUN echo myhost > /etc/hostname && ! (echo x >> /etc/hosts) 2>/dev/null
CMD ["/bin/cat", "/w/shell.txt"]
`
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	root := filepath.Join(tmp, "root")
	oci := filepath.Join(tmp, "oci")
	tarball := filepath.Join(tmp, "img.tar")
	mustStrata(t, "build", "--root", root, "-t", "runsteps:1", "-o", "type=oci,dest="+oci, "-o", "type=docker,dest="+tarball, ctx)
	checkClean(t, root)

	rfs, read := umociRootfs(t, filepath.Join(tmp, "bundle"), oci+":1")
	if got := read("w/shell.txt"); got != "hello world\n" {
		t.Errorf("ENV and ARG in RUN: %q", got)
	}
	if got := read("w/exec.txt"); got != "exec\n" {
		t.Errorf("exec form: %q", got)
	}
	if got := read("w/shellname.txt"); got != "shell is /bin/sh\n" {
		t.Errorf("SHELL: %q", got)
	}
	if got := read("tmp/uid-name.txt"); got != "1000\n" {
		t.Errorf("USER app: %q", got)
	}
	// Supplementary groups from /etc/group: app is in staff (50).
	if got := read("tmp/groups.txt"); !strings.Contains(got, "50") {
		t.Errorf("USER app groups: %q", got)
	}
	// As in docker build: the primary group is a supplementary group too
	// (CVE-2023-25173), no_new_privs is off (setuid programs work), and the
	// hostname is BuildKit's.
	if got := read("tmp/status.txt"); got != "Groups:\t50 1000 \nNoNewPrivs:\t0\n" {
		t.Errorf("USER app groups and no_new_privs: %q", got)
	}
	if got := read("tmp/hostname.txt"); got != "buildkitsandbox\n" {
		t.Errorf("RUN hostname: %q", got)
	}
	// /etc/hostname is the image's own file in RUN (kept in the layer);
	// /etc/hosts is read-only there, as in docker build.
	if got := read("etc/hostname"); got != "myhost\n" {
		t.Errorf("/etc/hostname written in RUN: %q", got)
	}
	if got := read("tmp/uid-num.txt"); !strings.HasPrefix(got, "uid=1000(app) gid=50(staff)") {
		t.Errorf("USER 1000:50: %q", got)
	}
	// Deletions: of an earlier step's file and of a base file.
	for _, p := range []string{"w/tmpfile", "etc/os-release", "w/d/keep"} {
		if _, err := os.Lstat(filepath.Join(rfs, p)); err == nil {
			t.Errorf("%s should be deleted", p)
		}
	}
	if got := read("w/d/new/f"); got != "new\n" {
		t.Errorf("recreated dir: %q", got)
	}
	// Hardlink, symlink, setuid, chown, fifo.
	h1, _ := os.Lstat(filepath.Join(rfs, "w/h1"))
	h2, _ := os.Lstat(filepath.Join(rfs, "w/h2"))
	if h1 == nil || h2 == nil || h1.Sys().(*syscall.Stat_t).Ino != h2.Sys().(*syscall.Stat_t).Ino {
		t.Errorf("h1 and h2 should be one inode")
	}
	if l, _ := os.Readlink(filepath.Join(rfs, "w/s1")); l != "h1" {
		t.Errorf("s1 -> %q", l)
	}
	if fi, err := os.Lstat(filepath.Join(rfs, "w/suid")); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("suid: %v %v", fi, err)
	}
	if fi, err := os.Lstat(filepath.Join(rfs, "w/owned")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 1000 || fi.Sys().(*syscall.Stat_t).Gid != 50 {
		t.Errorf("owned: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(rfs, "w/fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v", err)
	}

	// The layer tars carry OCI whiteouts (an opaque dir for d, a plain
	// whiteout for tmpfile) — look at the raw layer of the deleting step.
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	b, _ := os.ReadFile(filepath.Join(oci, "index.json"))
	json.Unmarshal(b, &idx)
	var man struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	b, _ = os.ReadFile(filepath.Join(oci, "blobs", strings.Replace(idx.Manifests[0].Digest, ":", "/", 1)))
	json.Unmarshal(b, &man)
	if len(man.Layers) < 5 {
		t.Fatalf("layers: %d", len(man.Layers))
	}
	del := filepath.Join(oci, "blobs", strings.Replace(man.Layers[4].Digest, ":", "/", 1))
	list := runTool(t, "tar", "-tzf", del)
	for _, want := range []string{"w/.wh.tmpfile", "etc/.wh.os-release", "w/d/.wh..wh..opq"} {
		if !strings.Contains(list, want) {
			t.Errorf("deleting layer lacks %s:\n%s", want, list)
		}
	}

	if _, err := exec.LookPath("podman"); err != nil {
		t.Log("podman not installed: skipping podman run (CI installs it)")
		return
	}
	runTool(t, "podman", "load", "-i", tarball)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", "localhost/runsteps:1").Run() })
	if out := runTool(t, "podman", podmanRunArgs("localhost/runsteps:1")...); !strings.Contains(out, "hello world") {
		t.Errorf("podman run: %q", out)
	}
}

// TestRunFailureAndCommandNotFound: a failed RUN reports the step, the
// command, the exit code and the last lines, and leaves nothing behind.
func TestRunFailureAndCommandNotFound(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	for _, tc := range []struct {
		name, run string
		want      []string
	}{
		{"exit code", "RUN echo one && echo two && exit 3", []string{"Dockerfile:3", "exit code 3", "> two"}},
		{"not found", "RUN [\"nosuchcmd\"]", []string{"Dockerfile:3", "exit code 127", `exec: "nosuchcmd": executable file not found in $PATH`}},
		{"unknown user", "USER ghost\nRUN true", []string{"Dockerfile:4", "unable to find user ghost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			ctx := filepath.Join(tmp, "ctx")
			os.MkdirAll(ctx, 0o755)
			assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar"))
			os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\n"+tc.run+"\n"), 0o644)
			root := filepath.Join(tmp, "root")
			out, err := strata(t, "build", "--root", root, "-t", "x", ctx)
			if err == nil {
				t.Fatalf("build succeeded:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			checkClean(t, root)
		})
	}
}

// TestCancelDuringRun interrupts a build during `RUN sleep 600`: the build
// stops promptly and no process, mount or scratch dir of it remains.
func TestCancelDuringRun(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(ctx, 0o755)
	assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar"))
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\nRUN echo started && sleep 600\n"), 0o644)
	root := filepath.Join(tmp, "root")
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
	t0 := time.Now()
	cmd.Process.Signal(os.Interrupt)
	go func() {
		for sc.Scan() {
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("cancelled build exited 0")
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("build still running 20s after SIGINT; output: %v", seen)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("cancel took %v", d)
	}
	// No process of the build: nothing runs "sleep 600".
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "sleep\x00600") {
			t.Errorf("process %s still runs sleep 600", p)
		}
	}
	checkClean(t, root)
}

// mountinfoLines counts the lines of /proc/self/mountinfo that mention s.
func mountinfoLines(t *testing.T, s string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

// TestRunMountFromStage: RUN --mount=type=bind,from=STAGE reads another
// stage's files without them entering the layer; rw bind changes are thrown
// away; RUN steps run under Docker's seccomp profile (unshare -U refused).
func TestRunMountFromStage(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "skopeo", "umoci")
	before := mountinfoLines(t, "strata")
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(ctx, 0o755)
	if err := assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	df := `FROM scratch AS base
ADD rootfs.tar /

FROM base AS builder
RUN mkdir -p /out && echo built > /out/file

FROM base
RUN --mount=type=bind,from=builder,source=/out,target=/in cat /in/file > /result
RUN --mount=type=bind,from=builder,source=/out,target=/in,rw echo changed > /in/file && echo new > /in/new && cat /in/file > /rw-saw
RUN --mount=type=bind,from=builder,source=/out,target=/in cat /in/file > /after && ls /in > /after-ls
RUN (unshare -U true 2>&1; echo "exit $?") > /seccomp.txt; grep Seccomp: /proc/self/status >> /seccomp.txt
`
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	root := filepath.Join(tmp, "root")
	oci := filepath.Join(tmp, "oci")
	mustStrata(t, "build", "--root", root, "-t", "bindfrom:1", "-o", "type=oci,dest="+oci, ctx)
	checkClean(t, root)
	if after := mountinfoLines(t, "strata"); after != before {
		t.Errorf("mountinfo lines naming strata: %d before, %d after", before, after)
	}

	rfs, read := umociRootfs(t, filepath.Join(tmp, "bundle"), oci+":1")
	if got := read("result"); got != "built\n" {
		t.Errorf("/result = %q, want the builder's file", got)
	}
	if got := read("rw-saw"); got != "changed\n" {
		t.Errorf("rw bind: the command saw %q, want its own change", got)
	}
	if got := read("after"); got != "built\n" {
		t.Errorf("after a rw bind: %q, want the builder's file unchanged", got)
	}
	if got := read("after-ls"); got != "file\n" {
		t.Errorf("after a rw bind: ls /in = %q, want only file", got)
	}
	for _, p := range []string{"in", "out"} {
		if _, err := os.Lstat(filepath.Join(rfs, p)); err == nil {
			t.Errorf("/%s is in the image: a mount (or the builder stage) leaked into a layer", p)
		}
	}
	if got := read("seccomp.txt"); !strings.Contains(got, "Operation not permitted") || !strings.Contains(got, "exit 1") || !strings.Contains(got, "Seccomp:\t2") {
		t.Errorf("unshare -U in RUN: %q, want Operation not permitted under a seccomp filter", got)
	}
}

// TestRunCacheLocked: two strata processes building at once with a
// sharing=locked cache mount take turns: the log each RUN writes into the
// cache shows one RUN's start and end before the other's start.
func TestRunCacheLocked(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(ctx, 0o755)
	if err := assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	df := `FROM scratch
ADD rootfs.tar /
ARG NAME
RUN --mount=type=cache,id=lk,target=/cache,sharing=locked echo "start $NAME $(date +%s)" >> /cache/log && sleep 1 && echo "end $NAME $(date +%s)" >> /cache/log
`
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	root := filepath.Join(tmp, "root")
	// The store and the ADD first, so that both builds reach the RUN at
	// about the same time.
	mustStrata(t, "build", "--root", root, "--build-arg", "NAME=warmup", ctx)
	type result struct {
		out string
		err error
	}
	results := make(chan result, 2)
	for _, name := range []string{"A", "B"} {
		go func() {
			out, err := strata(t, "build", "--root", root, "--no-cache", "--progress", "plain", "--build-arg", "NAME="+name, ctx)
			results <- result{out, err}
		}()
	}
	waited := false
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("build: %v\n%s", r.err, r.out)
		}
		waited = waited || strings.Contains(r.out, "waiting for cache mount lk (sharing=locked)")
	}
	logs, _ := filepath.Glob(filepath.Join(root, "cache", "mounts", "lk-*", "data", "log"))
	if len(logs) != 1 {
		t.Fatalf("cache logs: %v", logs)
	}
	b, _ := os.ReadFile(logs[0])
	var seq []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[1] != "warmup" {
			seq = append(seq, f[0]+" "+f[1])
		}
	}
	if len(seq) != 4 || seq[0][len("start "):] != seq[1][len("end "):] || !strings.HasPrefix(seq[0], "start") || !strings.HasPrefix(seq[1], "end") || !strings.HasPrefix(seq[2], "start") {
		t.Errorf("locked cache used by both builds at once:\n%s", b)
	}
	if !waited {
		t.Errorf("neither build reported waiting for the locked cache mount")
	}
	checkClean(t, root)
}

// TestDevicesRefusedInRunAndStrataRun: in a RUN step and in `strata run`, a
// block device node (of a loop device the test made) can be created but
// not opened (EPERM from the device cgroup, as in Docker), its backing file
// stays as it was, and a /dev/null-like node works.
func TestDevicesRefusedInRunAndStrataRun(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "losetup")
	tmp := t.TempDir()
	const content = "secret-loop-content"
	minor, backing := testutil.LoopDevice(t, content)
	script := fmt.Sprintf(`r() { label=$1; shift; if out=$("$@" 2>&1); then echo "$label: ok"; else echo "$label: $out"; fi; }
r mknod-blk mknod /tmp/blk b 7 %d
r read-blk head -c 6 /tmp/blk
r write-blk sh -c 'echo pwned > /tmp/blk'
r mknod-null mknod /tmp/mynull c 1 3
r write-null sh -c 'echo x > /tmp/mynull'
rm -f /tmp/blk /tmp/mynull
`, minor)
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(ctx, 0o755)
	if err := assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctx, "devices.sh"), []byte(script), 0o644)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\nCOPY devices.sh /\nRUN sh /devices.sh > /devices-run.txt\n"), 0o644)
	root := filepath.Join(tmp, "root")
	mustStrata(t, "build", "--root", root, "-t", "devices", ctx)
	check := func(where, out string) {
		t.Helper()
		for _, want := range []string{"mknod-blk: ok", "read-blk: head: /tmp/blk: Operation not permitted",
			"write-blk: sh: can't create /tmp/blk: Operation not permitted", "mknod-null: ok", "write-null: ok"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("%s: output lacks %q:\n%s", where, want, out)
			}
		}
	}
	check("RUN", mustStrata(t, "run", "--root", root, "devices", "cat", "/devices-run.txt"))
	check("strata run", mustStrata(t, "run", "--root", root, "devices", "sh", "/devices.sh"))
	b, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(content)) {
		t.Errorf("the loop device's backing file changed: %q", b[:64])
	}
	checkClean(t, root)
}

// TestRunOutOfMemory: a RUN that allocates past --memory is killed by the
// memory cgroup, and the build says so, not just "exit code 137".
func TestRunOutOfMemory(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(ctx, 0o755)
	assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar"))
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\nRUN awk 'BEGIN { s = \"x\"; while (1) s = s s }'\n"), 0o644)
	root := filepath.Join(tmp, "root")
	out, err := strata(t, "build", "--root", root, "--memory", "64m", ctx)
	if err == nil {
		t.Fatalf("build succeeded:\n%s", out)
	}
	t.Logf("%s", out)
	for _, want := range []string{"Dockerfile:3", "killed: out of memory (limit 64 MiB, --memory), exit code 137"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkClean(t, root)
}
