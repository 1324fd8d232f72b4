package main

// End-to-end tests: the real strata binary builds real images, and real
// consumers (skopeo, umoci, podman) check them. They need root (the
// sandbox) and the tools; CI installs everything and runs as root.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-build/strata/assets"
	"github.com/strata-build/strata/sandbox"
)

var strataBin string

func TestMain(m *testing.M) {
	sandbox.Init()
	dir, err := os.MkdirTemp("", "strata-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strataBin = filepath.Join(dir, "strata")
	out, err := exec.Command("go", "build", "-o", strataBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sandbox mounts overlayfs and creates namespaces (CI runs as root)")
	}
	if err := sandbox.Supported(); err != nil {
		t.Skipf("sandbox unavailable here: %v", err)
	}
}

func requireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s (apt-get install %s; .ci/run installs it)", n, n)
		}
	}
}

func requireBusybox(t *testing.T) {
	t.Helper()
	if _, err := assets.FindBusybox(); err != nil {
		t.Skip(err.Error())
	}
}

func strata(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(strataBin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func mustStrata(t *testing.T, args ...string) string {
	t.Helper()
	out, err := strata(t, args...)
	if err != nil {
		t.Fatalf("strata %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkClean fails if anything of a build is still mounted under dir or a
// scratch dir was left in the store.
func checkClean(t *testing.T, root string) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), root) {
		t.Errorf("a mount under %s remains:\n%s", root, mi)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "tmp"))
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("scratch dirs left in %s/tmp: %v", root, names)
	}
}

type ociConfig struct {
	Config struct {
		Env          []string
		Cmd          []string
		Entrypoint   []string
		WorkingDir   string
		User         string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
		Labels       map[string]string
		StopSignal   string
		OnBuild      []string
		Healthcheck  *struct {
			Test     []string
			Interval int64
			Retries  int
		}
		Shell []string
	} `json:"config"`
	Author  string `json:"author"`
	History []struct {
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// TestExampleBuildsAndRuns is the README's first command without the TUI:
// the bundled example builds offline; skopeo and umoci read the OCI
// layout; podman loads the docker tarball and runs its primary command.
func TestExampleBuildsAndRuns(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "skopeo", "umoci")
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	oci := filepath.Join(tmp, "oci")
	tarball := filepath.Join(tmp, "image.tar")
	out := mustStrata(t, "example", "--root", root, "--dir", filepath.Join(tmp, "ctx"),
		"-t", "strata-example:e2e", "-o", "type=oci,dest="+oci, "-o", "type=docker,dest="+tarball)
	for _, want := range []string{"Step 6/10 : RUN mkdir -p /srv/data", " ---> Running in ", "Successfully tagged strata-example:e2e"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkClean(t, root)

	// skopeo reads the layout and its config.
	var cfg ociConfig
	if err := json.Unmarshal([]byte(runTool(t, "skopeo", "inspect", "--config", "--raw", "oci:"+oci+":e2e")), &cfg); err != nil {
		t.Fatal(err)
	}
	// CMD exec form is stored as written (Docker: exec form is not wrapped).
	if got := strings.Join(cfg.Config.Cmd, " "); got != "/bin/sh /srv/app/server.sh" {
		t.Errorf("Cmd = %q", got)
	}
	if cfg.Config.User != "nobody" || cfg.Config.WorkingDir != "/srv/app" {
		t.Errorf("User/WorkingDir = %q %q", cfg.Config.User, cfg.Config.WorkingDir)
	}
	if _, ok := cfg.Config.ExposedPorts["6379/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v", cfg.Config.ExposedPorts)
	}
	// 4 layers: ADD, WORKDIR (new dir), COPY, RUN.
	if len(cfg.RootFS.DiffIDs) != 4 {
		t.Errorf("diff_ids = %d, want 4", len(cfg.RootFS.DiffIDs))
	}

	// umoci unpacks it; check files the steps made.
	rootfs, _ := umociRootfs(t, filepath.Join(tmp, "bundle"), oci+":e2e")
	motd, err := os.ReadFile(filepath.Join(rootfs, "srv/data/motd"))
	if err != nil || string(motd) != "hello from strata\n" {
		t.Errorf("motd = %q, %v", motd, err)
	}
	st, err := os.Lstat(filepath.Join(rootfs, "srv/app/server.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// COPY from the context: mode kept, owner root (Docker's rule without --chown).
	if st.Mode().Perm() != 0o755 || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("server.sh mode %v uid %d", st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
	}
	if l, err := os.Readlink(filepath.Join(rootfs, "bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q, %v", l, err)
	}
	// Nothing of the sandbox leaked into a layer.
	for _, p := range []string{"etc/hosts", "etc/resolv.conf", "etc/hostname"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err == nil {
			t.Errorf("%s was captured in a layer", p)
		}
	}

	// podman loads the docker tarball and runs the primary command.
	if _, err := exec.LookPath("podman"); err != nil {
		t.Log("podman not installed: skipping podman load/run (CI installs it)")
		return
	}
	out = runTool(t, "podman", "load", "-i", tarball)
	if !strings.Contains(out, "strata-example:e2e") {
		t.Errorf("podman load: %s", out)
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", "localhost/strata-example:e2e").Run() })
	out = runTool(t, "podman", podmanRunArgs("localhost/strata-example:e2e")...)
	if want := "serving hello from strata from /srv/app on port 6379"; !strings.Contains(out, want) {
		t.Errorf("podman run printed %q, want %q", out, want)
	}
}

// TestEveryInstruction builds a Dockerfile that uses every instruction and
// checks the image through skopeo/umoci against Docker's documented
// behaviour.
func TestEveryInstruction(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "skopeo", "umoci")
	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	os.MkdirAll(filepath.Join(ctx, "src/sub"), 0o755)
	if err := assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctx, "src/a.txt"), []byte("a\n"), 0o640)
	os.WriteFile(filepath.Join(ctx, "src/sub/b.txt"), []byte("b\n"), 0o600)
	os.Symlink("a.txt", filepath.Join(ctx, "src/link"))
	os.WriteFile(filepath.Join(ctx, "src/skip.log"), []byte("no"), 0o644)
	os.WriteFile(filepath.Join(ctx, ".dockerignore"), []byte("**/*.log\n"), 0o644)
	df := `# syntax=docker/dockerfile:1
ARG BASE=scratch
FROM ${BASE} AS base
ADD rootfs.tar /
MAINTAINER someone@example.com

FROM base AS final
ARG VERSION=1.0
ENV APP=/app VERSION=${VERSION}
LABEL version=$VERSION description="every instruction"
WORKDIR $APP
COPY --chown=app:staff src/ ./
COPY --from=base /etc/os-release /app/os-release
RUN echo "$VERSION" > version.txt && ln -s version.txt v && rm /etc/os-release
SHELL ["/bin/sh", "-ec"]
RUN <<EOF
echo heredoc > heredoc.txt
EOF
USER app:staff
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --retries=3 CMD wget -q -O- http://localhost/ || exit 1
ONBUILD RUN echo child
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo "$APP"
`
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	root := filepath.Join(tmp, "root")
	oci := filepath.Join(tmp, "oci")
	out := mustStrata(t, "build", "--root", root, "--build-arg", "VERSION=2.5", "-t", "every:1", "-o", "type=oci,dest="+oci, ctx)
	checkClean(t, root)
	var cfg ociConfig
	if err := json.Unmarshal([]byte(runTool(t, "skopeo", "inspect", "--config", "--raw", "oci:"+oci+":1")), &cfg); err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	// ENV keeps order, replaces by key; --build-arg overrides the ARG default.
	wantEnv := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP=/app", "VERSION=2.5"}
	if strings.Join(c.Env, ",") != strings.Join(wantEnv, ",") {
		t.Errorf("Env = %v, want %v", c.Env, wantEnv)
	}
	// Shell-form CMD is wrapped in the SHELL in effect (["/bin/sh","-ec"]).
	if got := strings.Join(c.Cmd, "|"); got != `/bin/sh|-ec|echo "$APP"` {
		t.Errorf("Cmd = %q", got)
	}
	if got := strings.Join(c.Entrypoint, "|"); got != "/bin/sh|-c" {
		t.Errorf("Entrypoint = %q", got)
	}
	if c.WorkingDir != "/app" || c.User != "app:staff" || c.StopSignal != "SIGQUIT" {
		t.Errorf("WorkingDir %q User %q StopSignal %q", c.WorkingDir, c.User, c.StopSignal)
	}
	for _, p := range []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("ExposedPorts lacks %s: %v", p, c.ExposedPorts)
		}
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("Volumes = %v", c.Volumes)
	}
	if c.Labels["version"] != "2.5" || c.Labels["description"] != "every instruction" {
		t.Errorf("Labels = %v", c.Labels)
	}
	if len(c.OnBuild) != 1 || c.OnBuild[0] != "RUN echo child" {
		t.Errorf("OnBuild = %v", c.OnBuild)
	}
	if c.Healthcheck == nil || c.Healthcheck.Retries != 3 || c.Healthcheck.Interval != 30e9 || strings.Join(c.Healthcheck.Test, "|") != "CMD-SHELL|wget -q -O- http://localhost/ || exit 1" {
		t.Errorf("Healthcheck = %+v", c.Healthcheck)
	}
	if strings.Join(c.Shell, " ") != "/bin/sh -ec" || cfg.Author != "someone@example.com" {
		t.Errorf("Shell %v Author %q", c.Shell, cfg.Author)
	}
	// History: one entry per instruction after FROM, empty_layer where no
	// layer was made (BuildKit's created_by strings).
	var hist []string
	layersN := 0
	for _, h := range cfg.History {
		hist = append(hist, h.CreatedBy)
		if !h.EmptyLayer {
			layersN++
		}
	}
	if layersN != len(cfg.RootFS.DiffIDs) {
		t.Errorf("%d non-empty history entries for %d layers", layersN, len(cfg.RootFS.DiffIDs))
	}
	for _, want := range []string{
		"ADD rootfs.tar / # buildkit",
		"MAINTAINER someone@example.com",
		"ARG VERSION=2.5",
		"ENV APP=/app VERSION=2.5",
		"WORKDIR /app",
		"COPY --chown=app:staff src/ ./ # buildkit",
		"COPY /etc/os-release /app/os-release # buildkit", // BuildKit leaves --from out of created_by
		`RUN |1 VERSION=2.5 /bin/sh -c echo "$VERSION" > version.txt && ln -s version.txt v && rm /etc/os-release # buildkit`,
		"SHELL [/bin/sh -ec]",
		"USER app:staff",
		"EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp]",
		"VOLUME [/data]",
		"STOPSIGNAL SIGQUIT",
		`ENTRYPOINT ["/bin/sh" "-c"]`,
		`CMD ["/bin/sh" "-ec" "echo \"$APP\""]`,
	} {
		found := false
		for _, h := range hist {
			if h == want {
				found = true
			}
		}
		if !found {
			t.Errorf("history lacks %q; have:\n%s", want, strings.Join(hist, "\n"))
		}
	}

	rootfs, _ := umociRootfs(t, filepath.Join(tmp, "bundle"), oci+":1")
	check := func(p string, mode os.FileMode, uid, gid uint32, content, link string) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(rootfs, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != mode || st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: mode %v uid %d gid %d, want %v %d %d", p, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
		}
		if link != "" {
			if l, _ := os.Readlink(filepath.Join(rootfs, p)); l != link {
				t.Errorf("%s -> %q, want %q", p, l, link)
			}
		}
		if content != "" {
			if b, _ := os.ReadFile(filepath.Join(rootfs, p)); string(b) != content {
				t.Errorf("%s = %q, want %q", p, b, content)
			}
		}
	}
	// COPY --chown=app:staff: names from the image's passwd/group (1000:50); modes kept.
	check("app/a.txt", 0o640, 1000, 50, "a\n", "")
	check("app/sub/b.txt", 0o600, 1000, 50, "b\n", "")
	check("app/link", os.ModeSymlink|0o777, 1000, 50, "", "a.txt")
	check("app/version.txt", 0o644, 0, 0, "2.5\n", "")
	check("app/v", os.ModeSymlink|0o777, 0, 0, "", "version.txt")
	check("app/heredoc.txt", 0o644, 0, 0, "heredoc\n", "")
	check("app/os-release", 0o644, 0, 0, "NAME=\"strata busybox\"\nID=busybox\n", "")
	// .dockerignore kept skip.log out; RUN's rm became a whiteout.
	for _, p := range []string{"app/skip.log", "etc/os-release"} {
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err == nil {
			t.Errorf("%s should not exist", p)
		}
	}
	_ = out
}

// podmanRunArgs runs an image with runc and explicit rlimits: Debian's crun
// refuses hybrid cgroup hierarchies and the default rlimits exceed this
// machine's hard limits; neither is about the image.
func podmanRunArgs(image string) []string {
	args := []string{"run", "--rm", "--network=none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
	if _, err := exec.LookPath("runc"); err == nil {
		args = append([]string{"--runtime", "runc"}, args...)
	}
	return append(args, image)
}

// umociRootfs unpacks an OCI layout image (DIR:TAG) with umoci into
// bundle and returns its rootfs and a reader of files in it (a missing
// file is a test error).
func umociRootfs(t *testing.T, bundle, image string) (string, func(string) string) {
	t.Helper()
	runTool(t, "umoci", "unpack", "--image", image, bundle)
	rootfs := filepath.Join(bundle, "rootfs")
	return rootfs, func(p string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(rootfs, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return string(b)
	}
}
