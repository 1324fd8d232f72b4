package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/internal/testutil/rootfs"
	"github.com/strata-build/strata/sandbox"
)

// requireArm64Emulation skips where the kernel has no binfmt_misc (the
// one reason to); elsewhere a missing qemu-aarch64 handler fails the test
// with what to install (.ci/run installs and registers it).
func requireArm64Emulation(t *testing.T) {
	t.Helper()
	if !sandbox.BinfmtAvailable() {
		t.Skip("this kernel has no binfmt_misc (CONFIG_BINFMT_MISC): another architecture's RUN cannot be emulated here")
	}
	if _, err := sandbox.CheckEmulator("", "aarch64"); err != nil {
		t.Fatalf("no arm64 emulator: %v", err)
	}
}

// platformContext writes a build context whose base is busybox for the
// target architecture (rootfs-amd64.tar, rootfs-arm64.tar), with a
// FROM --platform=$BUILDPLATFORM builder stage whose output both
// platforms copy.
func platformContext(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "rootfs-amd64.tar"), rootfs.BusyboxTar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rootfs-arm64.tar"), rootfs.BusyboxArm64Tar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	df := `FROM --platform=$BUILDPLATFORM scratch AS builder
ARG BUILDARCH
ADD rootfs-${BUILDARCH}.tar /
RUN uname -m > /built-on && echo builder ran on $(uname -m)
FROM scratch
ARG TARGETARCH TARGETPLATFORM BUILDPLATFORM
ADD rootfs-${TARGETARCH}.tar /
COPY --from=builder /built-on /built-on
RUN uname -m > /arch && echo "$TARGETPLATFORM built on $BUILDPLATFORM" > /platforms
`
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
}

type rawIndex struct {
	MediaType string `json:"mediaType"`
	Manifests []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Platform  struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
		} `json:"platform"`
	} `json:"manifests"`
}

// checkIndex reads an index with skopeo inspect --raw and checks it lists
// linux/amd64 and linux/arm64.
func checkIndex(t *testing.T, ref string, extra ...string) {
	t.Helper()
	raw := runTool(t, "skopeo", append(append([]string{"inspect", "--raw"}, extra...), ref)...)
	var idx rawIndex
	if err := json.Unmarshal([]byte(raw), &idx); err != nil {
		t.Fatalf("skopeo inspect --raw %s: %v\n%s", ref, err, raw)
	}
	var got []string
	for _, m := range idx.Manifests {
		got = append(got, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" || strings.Join(got, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("%s is not an index of linux/amd64 and linux/arm64: media type %s, platforms %v\n%s", ref, idx.MediaType, got, raw)
	}
}

// unpackArch copies the image for arch out of src (skopeo
// --override-arch) and unpacks it with umoci; it returns the rootfs.
func unpackArch(t *testing.T, src, arch string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--override-arch", arch, "copy"}, extra...)
	runTool(t, "skopeo", append(args, src, "oci:"+filepath.Join(dir, "one")+":img")...)
	runTool(t, "umoci", "unpack", "--image", filepath.Join(dir, "one")+":img", filepath.Join(dir, "bundle"))
	return filepath.Join(dir, "bundle", "rootfs")
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestPlatformIndex: --platform linux/amd64,linux/arm64 makes an OCI index
// whose images ran their RUN natively and under QEMU (uname -m says
// x86_64 and aarch64); the builder stage FROM --platform=$BUILDPLATFORM
// runs once, natively, and both images hold its output; a second build
// is all cache hits; the local store lists the index; strata run
// --platform picks an image; a push makes a registry index that skopeo
// pulls per architecture.
func TestPlatformIndex(t *testing.T) {
	requireRoot(t)
	requireTool(t, "skopeo", "umoci", "docker-registry")
	requireArm64Emulation(t)
	if out, _ := exec.Command("uname", "-m").Output(); strings.TrimSpace(string(out)) != "x86_64" {
		t.Skip("the test's native platform is linux/amd64")
	}
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	platformContext(t, ctx)
	root := filepath.Join(tmp, "root")
	out := filepath.Join(tmp, "out")
	build := mustStrata(t, "build", "--root", root, "--platform", "linux/amd64,linux/arm64", "-t", "plat:1", "-o", "type=oci,dest="+out, ctx)
	if n := strings.Count(build, "builder ran on x86_64"); n != 1 {
		t.Errorf("the builder stage's RUN ran %d times, want once (shared by both platforms):\n%s", n, build)
	}
	if !strings.Contains(build, "builder ran on x86_64") {
		t.Errorf("the builder stage did not run natively:\n%s", build)
	}
	if !regexp.MustCompile(`linux/arm64 +manifest sha256:[0-9a-f]{64} +image [0-9a-f]{12} +emulated \(QEMU\)`).MatchString(build) {
		t.Errorf("the index summary does not say linux/arm64 was emulated:\n%s", build)
	}
	checkIndex(t, "oci:"+out+":1")
	for arch, want := range map[string]string{"amd64": "x86_64", "arm64": "aarch64"} {
		rfs := unpackArch(t, "oci:"+out+":1", arch)
		if got := readTrim(t, filepath.Join(rfs, "arch")); got != want {
			t.Errorf("%s image: /arch = %q, want %q", arch, got, want)
		}
		if got := readTrim(t, filepath.Join(rfs, "built-on")); got != "x86_64" {
			t.Errorf("%s image: the builder's /built-on = %q, want x86_64 (native)", arch, got)
		}
		// BuildKit's forms: linux/arm64, not linux/arm64/v8.
		if got := readTrim(t, filepath.Join(rfs, "platforms")); got != "linux/"+arch+" built on linux/amd64" {
			t.Errorf("%s image: TARGETPLATFORM/BUILDPLATFORM said %q", arch, got)
		}
	}

	// Again: every step of both platforms is a hit.
	again := mustStrata(t, "build", "--root", root, "--jobs", "1", "--platform", "linux/amd64,linux/arm64", "-t", "plat:1", ctx) // one platform after the other
	done := regexp.MustCompile(`(?m)^\[(linux/[a-z0-9/]+)\] Successfully built [0-9a-f]+ \(.*, (\d+) steps? built, (\d+) cached\)`).FindAllStringSubmatch(again, -1)
	if len(done) != 2 {
		t.Fatalf("want two platforms' results:\n%s", again)
	}
	for _, d := range done {
		if d[2] != "0" {
			t.Errorf("second build of %s built %s steps, want all cached:\n%s", d[1], d[2], again)
		}
	}

	images := mustStrata(t, "images", "--root", root)
	if !strings.Contains(images, "linux/amd64") || !strings.Contains(images, "linux/arm64") {
		t.Errorf("strata images does not list the index's platforms:\n%s", images)
	}
	// prune keeps every platform's image of a named index.
	mustStrata(t, "prune", "--root", root, "--all")
	if got := mustStrata(t, "inspect", "--root", root, "--plain", "--platform", "linux/arm64", "plat:1"); !strings.Contains(got, "PLATFORM linux/arm64") {
		t.Errorf("inspect --platform linux/arm64 plat:1:\n%s", got)
	}
	for pl, want := range map[string]string{"linux/arm64": "aarch64", "linux/amd64": "x86_64"} {
		got := mustStrata(t, "run", "--root", root, "--rm", "--platform", pl, "plat:1", "cat", "/arch")
		if strings.TrimSpace(got) != want {
			t.Errorf("strata run --platform %s: %q, want %s", pl, got, want)
		}
	}
	if got := mustStrata(t, "run", "--root", root, "--rm", "plat:1", "uname", "-m"); strings.TrimSpace(got) != "x86_64" {
		t.Errorf("strata run without --platform runs %q, want the host's image (x86_64)", got)
	}
	if _, err := strata(t, "run", "--root", root, "--rm", "--platform", "linux/s390x", "plat:1", "true"); err == nil {
		t.Errorf("strata run --platform linux/s390x of an amd64+arm64 index did not fail")
	}

	// Push: the registry gets an index; skopeo pulls each architecture.
	host, stop := startRegistry(t)
	defer stop()
	ref := host + "/plat:1"
	mustStrata(t, "build", "--root", root, "--platform", "linux/amd64,linux/arm64", "-t", ref, "-o", "type=registry", ctx)
	checkIndex(t, "docker://"+ref, "--tls-verify=false")
	for arch, want := range map[string]string{"amd64": "x86_64", "arm64": "aarch64"} {
		rfs := unpackArch(t, "docker://"+ref, arch, "--src-tls-verify=false")
		if got := readTrim(t, filepath.Join(rfs, "arch")); got != want {
			t.Errorf("pulled %s image: /arch = %q, want %q", arch, got, want)
		}
	}
	// The pushed index as a base: each platform's run resolves its own
	// image of it (a fresh store pulls both).
	baseCtx := filepath.Join(tmp, "onbase")
	os.MkdirAll(baseCtx, 0o755)
	os.WriteFile(filepath.Join(baseCtx, "Dockerfile"), []byte("FROM "+ref+"\nRUN cp /arch /base-arch && uname -m > /arch\n"), 0o644)
	onBase := filepath.Join(tmp, "onbase-out")
	mustStrata(t, "build", "--root", filepath.Join(tmp, "root2"), "--platform", "linux/amd64,linux/arm64", "-o", "type=oci,dest="+onBase, baseCtx)
	for arch, want := range map[string]string{"amd64": "x86_64", "arm64": "aarch64"} {
		rfs := unpackArch(t, "oci:"+onBase, arch)
		if got := readTrim(t, filepath.Join(rfs, "base-arch")); got != want {
			t.Errorf("%s image built FROM the index: its base said %q, want %q (the base's own platform)", arch, got, want)
		}
		if got := readTrim(t, filepath.Join(rfs, "arch")); got != want {
			t.Errorf("%s image built FROM the index: RUN said %q, want %q", arch, got, want)
		}
	}

	// strata push of the stored multi-platform name pushes its index.
	mustStrata(t, "push", "--root", root, "plat:1", host+"/pushed:1")
	checkIndex(t, "docker://"+host+"/pushed:1", "--tls-verify=false")
	checkClean(t, root)
}

// TestPlatformMissingEmulator: without a qemu-aarch64 handler (the check
// pointed at an empty binfmt_misc), a build for linux/arm64 that runs a
// command fails before any step with what to install.
func TestPlatformMissingEmulator(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "rootfs.tar"), rootfs.BusyboxTar(t), 0o644)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nADD rootfs.tar /\nRUN uname -m > /arch\n"), 0o644)
	empty := filepath.Join(tmp, "binfmt_misc")
	os.MkdirAll(empty, 0o755)
	os.WriteFile(filepath.Join(empty, "register"), nil, 0o200)
	for _, pl := range []string{"linux/amd64,linux/arm64", "linux/arm64"} {
		cmd := exec.Command(strataBin, "build", "--root", filepath.Join(tmp, "root"), "--platform", pl, ctx)
		cmd.Env = append(os.Environ(), "STRATA_BINFMT_DIR="+empty)
		b, err := cmd.CombinedOutput()
		out := string(b)
		if err == nil {
			t.Fatalf("--platform %s without an arm64 emulator succeeded:\n%s", pl, out)
		}
		for _, want := range []string{"no binfmt_misc handler qemu-aarch64", "apt-get install qemu-user-static binfmt-support", "Dockerfile:1", "linux/arm64"} {
			if !strings.Contains(out, want) {
				t.Errorf("--platform %s: the error does not say %q:\n%s", pl, want, out)
			}
		}
		if strings.Contains(out, "Step 1/") {
			t.Errorf("--platform %s: a step ran before the emulator check:\n%s", pl, out)
		}
	}
	// The host's platform alone needs no emulator.
	cmd := exec.Command(strataBin, "build", "--root", filepath.Join(tmp, "root"), ctx)
	cmd.Env = append(os.Environ(), "STRATA_BINFMT_DIR="+empty)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("a native build failed with an empty binfmt_misc: %v\n%s", err, b)
	}
}

// TestPlatformTUI builds two platforms in the TUI (tmux): the header names
// the platform shown, a switches to the other, Summary tells the index,
// and when the TUI closes the index's summary is printed.
func TestPlatformTUI(t *testing.T) {
	requireRoot(t)
	requireArm64Emulation(t)
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	platformContext(t, ctx)
	root := filepath.Join(tmp, "root")
	exitFile := filepath.Join(tmp, "exit")
	cmd := strataBin + " --root " + root + " --platform linux/amd64,linux/arm64 -t tuiplat:1 " + ctx + "; echo $? > " + exitFile + "; sleep 60"
	s := newTmux(t, 160, 40, cmd)
	scr := s.waitFor("image index: 2 platforms (linux/amd64 shown", 120*time.Second)
	if !strings.Contains(strings.SplitN(scr, "\n", 2)[0], "linux/amd64 1/2") {
		t.Errorf("the header does not name linux/amd64 1/2:\n%s", scr)
	}
	s.keys("?") // the help screen offers a
	s.waitFor("show the next platform's", 10*time.Second)
	s.keys("?")
	s.keys("a")
	s.waitFor("linux/arm64 (QEMU) 2/2", 10*time.Second)
	s.waitFor("image index: 2 platforms (linux/arm64 shown", 10*time.Second)
	s.waitFor("emulated (QEMU)", 10*time.Second)
	s.keys("q")
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("strata exited %s", code)
	}
	// The index's summary stays on the terminal.
	s.waitFor("image index sha256:", 5*time.Second)
	checkClean(t, root)
}
