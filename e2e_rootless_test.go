package main

// Rootless end-to-end tests: the real strata binary, run as a normal user
// (setpriv drops to the users .ci/run creates: strata-rootless with a
// subordinate id range, strata-nosubid without), builds, runs and inspects
// images in its own user namespace, with the same layers as root. The tests
// run as root (go test ./... in CI) and drop to the user for strata only.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-build/strata/assets"
)

const (
	rootlessUserName = "strata-rootless" // with a /etc/subuid and /etc/subgid range
	noSubIDUserName  = "strata-nosubid"  // without
)

// rlUser is a normal user the test runs strata as, with a work dir of its
// own (context, outputs) and a fresh state folder ($XDG_DATA_HOME/strata).
type rlUser struct {
	t        *testing.T
	name     string
	uid, gid int
	home     string
	bin      string // a copy of strataBin the user may execute
	dir      string // the user's work dir
	xdg      string // XDG_DATA_HOME: the state folder is xdg/strata
	env      []string
}

// asRootlessUser prepares running strata as name: it needs root (to drop
// to the user), the user (.ci/run creates it), setpriv and the uidmap
// tools.
func asRootlessUser(t *testing.T, name string) *rlUser {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run strata as the rootless test user (CI runs as root)")
	}
	requireBusybox(t)
	requireTool(t, "setpriv", "newuidmap", "newgidmap")
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("needs the user %s: .ci/run creates it (useradd -m, with a subordinate id range for strata-rootless)", name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	top, err := os.MkdirTemp("", "strata-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	// root removes it all: files of the user's subordinate ids too
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &rlUser{t: t, name: name, uid: uid, gid: gid, home: u.HomeDir,
		bin: filepath.Join(top, "strata"), dir: filepath.Join(top, "work"), xdg: filepath.Join(top, "xdg")}
	copyFile(t, strataBin, r.bin, 0o755)
	for _, d := range []string{r.dir, r.xdg} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// state is the user's state folder.
func (r *rlUser) state() string { return filepath.Join(r.xdg, "strata") }

// command is strata args as the user, with a clean environment.
func (r *rlUser) command(args ...string) *exec.Cmd {
	argv := []string{"--reuid", strconv.Itoa(r.uid), "--regid", strconv.Itoa(r.gid), "--init-groups", "--",
		"env", "-i", "HOME=" + r.home, "USER=" + r.name, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"XDG_DATA_HOME=" + r.xdg}
	argv = append(append(argv, r.env...), r.bin)
	cmd := exec.Command("setpriv", append(argv, args...)...)
	cmd.Dir = r.dir
	return cmd
}

func (r *rlUser) strata(args ...string) (string, error) {
	out, err := r.command(args...).CombinedOutput()
	return string(out), err
}

func (r *rlUser) mustStrata(args ...string) string {
	r.t.Helper()
	out, err := r.strata(args...)
	if err != nil {
		r.t.Fatalf("strata %s as %s: %v\n%s", strings.Join(args, " "), r.name, err, out)
	}
	return out
}

// writeFiles writes name → content under dir, owned by the user.
func (r *rlUser) writeFiles(dir string, files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		if err := os.Chown(p, r.uid, r.gid); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rlUser) chownAll(dir string) {
	r.t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, r.uid, r.gid)
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// context makes a build context in the user's work dir with the busybox
// rootfs (root0: only its root-owned entries) and files.
func (r *rlUser) context(name string, rootOnly bool, files map[string]string) string {
	r.t.Helper()
	dir := filepath.Join(r.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "rootfs.tar")
	if err := assets.WriteBusyboxRootfs(tarPath); err != nil {
		r.t.Fatal(err)
	}
	if rootOnly {
		rootOwnedOnly(r.t, tarPath)
	}
	r.writeFiles(dir, files)
	r.chownAll(dir)
	return dir
}

// rootOwnedOnly drops the entries of owners other than 0:0 from a tar.
func rootOwnedOnly(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(b)), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// userProcesses lists the processes of uid (and of its subordinate ids
// when sub is not 0), but for the test's own tmux server.
func userProcesses(t *testing.T, bin string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if slices.Contains(argv, bin) || argv[0] == bin {
			out = append(out, e.Name()+": "+strings.Join(argv, " "))
		}
	}
	return out
}

// TestRootlessExample: as a normal user with a subordinate range, with no
// sudo, the example builds and its image runs (strata run), every owner in
// it kept; strata info says rootless, the mapping and overlay+userxattr,
// and the default state folder is the user's; a RUN has the default
// (slirp4netns) network and none.
func TestRootlessExample(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	requireTool(t, "slirp4netns")
	out := r.mustStrata("example", "--dir", filepath.Join(r.dir, "example"), "--progress", "plain")
	if !strings.Contains(out, "Successfully tagged strata-example:latest") {
		t.Fatalf("example did not build:\n%s", out)
	}
	if got := r.mustStrata("run", "--rm", "strata-example", "cat", "/srv/data/motd"); got != "hello from strata\n" {
		t.Errorf("strata run cat motd = %q", got)
	}
	// USER nobody and the files of app (uid 1000) keep their ids
	if got := r.mustStrata("run", "--rm", "strata-example", "id"); !strings.HasPrefix(got, "uid=65534(nobody) gid=65534(nogroup)") {
		t.Errorf("strata run id = %q, want nobody", got)
	}
	if got := r.mustStrata("run", "--rm", "strata-example", "stat", "-c", "%u:%g", "/home/app"); got != "1000:1000\n" {
		t.Errorf("/home/app is owned by %q, want 1000:1000", got)
	}
	// ... which on the host belong to the user's subordinate ids
	var sub int
	filepath.Walk(filepath.Join(r.state(), "layers"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Sys().(*syscall.Stat_t).Uid != uint32(r.uid) {
			sub++
		}
		return nil
	})
	if sub == 0 {
		t.Error("no file of the unpacked layers belongs to a subordinate id: owners were lost")
	}

	var info infoReport
	js := r.mustStrata("info", "--format", "json")
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		t.Fatalf("info --format json: %v\n%s", err, js)
	}
	if info.Mode != "rootless" || info.Sandbox.Snapshotter != "overlay+userxattr" || info.StateDir != r.state() || info.StateBytes <= 0 {
		t.Errorf("info: mode %q, snapshotter %q, state %q (%d bytes); want rootless, overlay+userxattr, %s", info.Mode, info.Sandbox.Snapshotter, info.StateDir, info.StateBytes, r.state())
	}
	if len(info.UIDMap) != 2 || info.UIDMap[0].Outside != int64(r.uid) || info.UIDMap[1].Inside != 1 || info.UIDMap[1].Count < 65536 {
		t.Errorf("info: uid map %v, want 0 → %d and 1.. → the subordinate range", info.UIDMap, r.uid)
	}
	// Without XDG_DATA_HOME the state folder is ~/.local/share/strata.
	cmd := r.command("info", "--format", "json")
	cmd.Args = slices.DeleteFunc(cmd.Args, func(a string) bool { return strings.HasPrefix(a, "XDG_DATA_HOME=") })
	b, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var info2 infoReport
	if err := json.Unmarshal(b, &info2); err != nil || info2.StateDir != filepath.Join(r.home, ".local/share/strata") {
		t.Errorf("default state folder of a normal user = %q (%v), want %s", info2.StateDir, err, filepath.Join(r.home, ".local/share/strata"))
	}

	ctx := r.context("net", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\n" +
		"RUN grep -q 'nameserver 10.0.2.3' /etc/resolv.conf && ip addr show tap0 | grep -q 10.0.2.100 && echo default-net-ok\n"})
	if out := r.mustStrata("build", "--progress", "plain", "--no-cache", ctx); !strings.Contains(out, "default-net-ok") {
		t.Errorf("the default network (slirp4netns) is not there rootless:\n%s", out)
	}
	ctx = r.context("nonet", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\n" +
		"RUN test \"$(ls /sys/class/net)\" = lo && echo none-net-ok\n"})
	if out := r.mustStrata("build", "--progress", "plain", "--no-cache", "--network", "none", ctx); !strings.Contains(out, "none-net-ok") {
		t.Errorf("--network none: not only lo:\n%s", out)
	}
	ctx = r.context("hostnet", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\nRUN ls /sys/class/net\n"})
	out = r.mustStrata("build", "--progress", "plain", "--no-cache", "--network", "host", ctx)
	hostIfs, _ := os.ReadDir("/sys/class/net")
	for _, e := range hostIfs {
		if !strings.Contains(out, e.Name()) {
			t.Errorf("--network host: the host's %s is not seen:\n%s", e.Name(), out)
		}
	}
	if p := userProcesses(t, r.bin); len(p) > 0 {
		t.Errorf("processes left: %v", p)
	}
}

// sameBuildDockerfile (BASE: the base image's OCI layout) has every kind of owner and entry the rootless store
// must keep exactly: USER app, chown 1000:1000, a setuid file, whiteouts
// and an opaque directory (in the base image's layers, extracted by the
// user's strata), and a hardlink. The RUN steps set fixed times on what
// they change, and COPY writes to / (whose own time is in no layer), so
// that two builds at different times give the same layers.
const sameBuildDockerfile = `FROM oci:BASE
RUN test ! -e /usr/share/gone && test "$(ls /opq)" = new && ls -l /opq > /opq-listing \
 && mkdir -p /data /usr/local/bin && touch /data/owned && chown 1000:1000 /data/owned \
 && cp /bin/busybox /usr/local/bin/suid && chmod 4755 /usr/local/bin/suid \
 && ln /data/owned /data/hardlink \
 && find /data /usr /opq-listing -newer /bin/busybox -exec touch -d '2020-01-01 00:00:00' {} +
USER app
RUN echo hi > /home/app/mine && id > /home/app/id && find /home/app -exec touch -d '2020-01-01 00:00:00' {} +
COPY --chown=app:app --chmod=4750 tool /tool
`

// baseDockerfile makes the base image's whiteout and opaque directory.
const baseDockerfile = `FROM scratch
ADD rootfs.tar /
RUN mkdir -p /usr/share/gone /opq/sub && touch /usr/share/gone/f /opq/sub/old
RUN rm -rf /usr/share/gone /opq && mkdir /opq && touch /opq/new
`

// TestRootlessSameLayersAsRoot: the same build as root and as a normal
// user gives an OCI output with the same layer digests; a whiteout the
// user's RUN makes is the same entry as root's.
func TestRootlessSameLayersAsRoot(t *testing.T) {
	testSameLayersAsRoot(t, asRootlessUser(t, rootlessUserName))
}

// TestRootlessCopySnapshotter: the copying snapshotter (where no overlay
// can be mounted; STRATA_SNAPSHOTTER=copy chooses it here) gives the same
// layers as root's overlay, whiteouts and opaque dirs too, and info says
// which snapshotter is used.
func TestRootlessCopySnapshotter(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	r.env = []string{"STRATA_SNAPSHOTTER=copy"}
	if out := r.mustStrata("info"); !strings.Contains(out, "snapshotter:   copy") {
		t.Errorf("info does not say copy:\n%s", out)
	}
	testSameLayersAsRoot(t, r)
}

// TestRootlessFuseOverlayfs: fuse-overlayfs (where the kernel refuses an
// overlay in the user namespace; STRATA_SNAPSHOTTER=fuse-overlayfs chooses
// it here) gives the same layers as root's overlay, whiteouts, opaque
// dirs, owners and hardlinks too; info says which snapshotter is used; no
// fuse-overlayfs daemon and no fuse mount is left once the builds end.
func TestRootlessFuseOverlayfs(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	requireTool(t, "fuse-overlayfs")
	if fi, err := os.Stat("/dev/fuse"); err != nil || fi.Mode().Perm()&0o006 != 0o006 {
		t.Skip("needs /dev/fuse usable by a normal user (mode 0666, as udev and .ci/run set it)")
	}
	r.env = []string{"STRATA_SNAPSHOTTER=fuse-overlayfs"}
	if out := r.mustStrata("info"); !strings.Contains(out, "snapshotter:   fuse-overlayfs") {
		t.Errorf("info does not say fuse-overlayfs:\n%s", out)
	}
	daemons := func() []string {
		var out []string
		for _, p := range userProcesses(t, "/usr/bin/fuse-overlayfs") {
			if strings.Contains(p, r.dir) || strings.Contains(p, r.xdg) || strings.Contains(p, "strata-run-") {
				out = append(out, p)
			}
		}
		return out
	}
	// The one difference fuse-overlayfs leaves (containers/fuse-overlayfs
	// #400, sandbox/fuseoverlay_linux.go): the RUN's find -exec touch
	// sets /usr's times, then touching /usr/share copies it up into /usr,
	// which moves /usr's mtime to that moment (the kernel overlay puts it
	// back). Everything else in the layers must be the same, byte for byte.
	testSameLayersAsRoot(t, r, "usr/")
	// A RUN that changes nothing over a root without /dev, /proc, /sys
	// or /etc: the mount points the sandbox made (where fuse-overlayfs
	// puts its opaque markers) are gone again, the layer is empty.
	stubs := r.context("stubs", false, map[string]string{"Dockerfile": "FROM scratch AS s\nADD rootfs.tar /\nFROM scratch\nCOPY --from=s /bin /bin\nRUN [\"/bin/busybox\", \"true\"]\n"})
	if out := r.mustStrata("build", "--progress", "plain", "--network", "none", stubs); !strings.Contains(out, "no changes: empty layer") {
		t.Errorf("a RUN that changes nothing left a layer:\n%s", out)
	}
	if d := daemons(); len(d) > 0 {
		t.Errorf("fuse-overlayfs daemons left running: %v", d)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(b), "fuse-overlayfs") {
		t.Errorf("a fuse-overlayfs mount is left:\n%s", b)
	}
}

// testSameLayersAsRoot builds the same Dockerfile as root and as r; the
// layer digests must be equal, but that a layer may differ in the mtimes
// of the entries mtimeMayDiffer names (and in nothing else).
func testSameLayersAsRoot(t *testing.T, r *rlUser, mtimeMayDiffer ...string) {
	requireRoot(t)
	requireTool(t, "slirp4netns")
	// The base image (whiteouts, opaque dir) as an OCI layout both read.
	base := r.context("basectx", false, map[string]string{"Dockerfile": baseDockerfile})
	ctx := filepath.Join(r.dir, "ctx")
	ctx = r.context("ctx", false, map[string]string{"Dockerfile": strings.ReplaceAll(sameBuildDockerfile, "BASE", filepath.Join(ctx, "base")), "tool": "#!/bin/sh\necho tool\n"})
	os.Remove(filepath.Join(ctx, "rootfs.tar"))
	mustStrata(t, "build", "--root", filepath.Join(r.dir, "rootstore-base"), "-o", "type=oci,dest="+filepath.Join(ctx, "base"), base)
	fixed := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(ctx, "tool"), fixed, fixed); err != nil {
		t.Fatal(err)
	}
	r.chownAll(ctx)

	rootOut, userOut := filepath.Join(r.dir, "oci-root"), filepath.Join(r.dir, "oci-user")
	mustStrata(t, "build", "--root", filepath.Join(r.dir, "rootstore"), "--progress", "plain", "-o", "type=oci,dest="+rootOut, ctx)
	r.mustStrata("build", "--progress", "plain", "-o", "type=oci,dest="+userOut, ctx)
	rootLayers, userLayers := ociLayerDigests(t, rootOut), ociLayerDigests(t, userOut)
	if len(rootLayers) != 6 {
		t.Fatalf("root build has %d layers, want 6 (ADD, 2 base RUNs, 2 RUNs, COPY): %v", len(rootLayers), rootLayers)
	}
	same := slices.Clone(userLayers) // but for mtimeMayDiffer
	if len(mtimeMayDiffer) > 0 && len(rootLayers) == len(userLayers) {
		for i := range rootLayers {
			if rootLayers[i] == userLayers[i] {
				continue
			}
			a := tarCanon(t, rootOut, rootLayers[i], mtimeMayDiffer)
			b := tarCanon(t, userOut, userLayers[i], mtimeMayDiffer)
			if slices.Equal(a, b) {
				t.Logf("layer %d differs only in the mtimes of %v (%s as root, %s rootless)", i, mtimeMayDiffer, rootLayers[i], userLayers[i])
				same[i] = rootLayers[i]
			}
		}
	}
	if !slices.Equal(rootLayers, same) {
		t.Errorf("layer digests differ:\nroot     %v\nrootless %v", rootLayers, userLayers)
		for i := range min(len(rootLayers), len(userLayers)) {
			if rootLayers[i] != userLayers[i] {
				t.Logf("layer %d as root:\n%s\nas the user:\n%s", i, tarListing(t, rootOut, rootLayers[i]), tarListing(t, userOut, userLayers[i]))
			}
		}
	}
	// What the layers hold, for a digest equal by accident of being empty.
	want := map[string]string{
		"data/owned":          "1000:1000",
		"usr/local/bin/suid":  "-rwsr-xr-x 0:0",
		"home/app/mine":       "1000:1000",
		"tool":                "-rwsr-x--- 1000:1000",
		"data/hardlink":       "1000:1000", // the first of the pair is the file, the other its link
		"opq-listing":         "0:0",
		"usr/share/.wh.gone":  "",
		"opq/.wh..wh..opq":    "",
		"usr/local/bin/":      "",
		"home/app/id":         "1000:1000",
		"data/owned (link)":   "data/hardlink",
		"usr/share/gone (no)": "",
	}
	listing := ""
	for _, d := range userLayers {
		listing += tarListing(t, userOut, d)
	}
	for name, w := range want {
		switch {
		case strings.HasSuffix(name, " (link)"):
			if !strings.Contains(listing, strings.TrimSuffix(name, " (link)")+" -> "+w) {
				t.Errorf("no hardlink %s -> %s in:\n%s", name, w, listing)
			}
		case strings.HasSuffix(name, " (no)"):
		case !strings.Contains(listing, name) || (w != "" && !strings.Contains(lineOf(listing, name), w)):
			t.Errorf("%s (%s) missing from the rootless layers:\n%s", name, w, listing)
		}
	}

	// A whiteout the user's own RUN makes: the same entry as root's
	// (its time is the deletion's, as BuildKit's is, so no digest).
	ctx2 := r.context("ctx2", false, map[string]string{"Dockerfile": "FROM oci:" + filepath.Join(ctx, "base") + "\nRUN rm -rf /opq && mkdir /opq && rm /bin/vi\n"})
	rootOut2, userOut2 := filepath.Join(r.dir, "oci-root2"), filepath.Join(r.dir, "oci-user2")
	mustStrata(t, "build", "--root", filepath.Join(r.dir, "rootstore"), "-o", "type=oci,dest="+rootOut2, ctx2)
	r.mustStrata("build", "-o", "type=oci,dest="+userOut2, ctx2)
	l1, l2 := ociLayerDigests(t, rootOut2), ociLayerDigests(t, userOut2)
	a, b := tarEntries(t, rootOut2, l1[len(l1)-1]), tarEntries(t, userOut2, l2[len(l2)-1])
	if !slices.Equal(a, b) || !slices.Contains(a, "opq/.wh..wh..opq 0 0:0") || !slices.Contains(a, "bin/.wh.vi 0 0:0") {
		t.Errorf("the RUN's whiteouts differ or are missing:\nroot     %v\nrootless %v", a, b)
	}
}

// tarCanon describes every entry of a layer blob of the OCI layout dir:
// its header (but the mtime of the names in noMtime) and its content's
// digest.
func tarCanon(t *testing.T, dir, digest string, noMtime []string) []string {
	t.Helper()
	f, err := os.Open(blobPath(dir, digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rd io.Reader = f
	if gz, err := gzip.NewReader(f); err == nil {
		rd = gz
	} else if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out []string
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("layer %s: %v", digest, err)
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			t.Fatal(err)
		}
		mtime := h.ModTime.Unix()
		if slices.Contains(noMtime, h.Name) {
			mtime = 0
		}
		out = append(out, fmt.Sprintf("%s %c %o %d:%d %d %q %d %v %x", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size, h.Linkname, mtime, h.PAXRecords, sum.Sum(nil)))
	}
}

func lineOf(listing, name string) string {
	for _, l := range strings.Split(listing, "\n") {
		if strings.Contains(l, " "+name) {
			return l
		}
	}
	return ""
}

// ociLayerDigests lists the layer digests of the only image of an OCI layout.
func ociLayerDigests(t *testing.T, dir string) []string {
	t.Helper()
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	if len(idx.Manifests) != 1 {
		t.Fatalf("%s: %d manifests, want 1", dir, len(idx.Manifests))
	}
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	readJSON(t, blobPath(dir, idx.Manifests[0].Digest), &m)
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func blobPath(dir, digest string) string {
	return filepath.Join(dir, "blobs", strings.Replace(digest, ":", "/", 1))
}

// tarEntries lists a layer's entries as "name type uid:gid".
func tarEntries(t *testing.T, dir, digest string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(runTool(t, "tar", "--numeric-owner", "-tvf", blobPath(dir, digest))), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		typ := "0"
		switch l[0] {
		case 'd':
			typ = "5"
		case 'h':
			typ = "1"
		case 'l':
			typ = "2"
		}
		out = append(out, fmt.Sprintf("%s %s %s", f[5], typ, strings.ReplaceAll(f[1], "/", ":")))
	}
	return out
}

// tarListing is tar -tv of a layer: mode, owner and name (and link) per
// line, owners as uid:gid.
func tarListing(t *testing.T, dir, digest string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(runTool(t, "tar", "--numeric-owner", "-tvf", blobPath(dir, digest))), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		rest := strings.Join(f[5:], " ")
		rest = strings.Replace(rest, " link to ", " -> ", 1)
		fmt.Fprintf(&b, "%s %s %s\n", f[0], strings.ReplaceAll(f[1], "/", ":"), rest)
	}
	return b.String()
}

// TestRootlessInspectArchive: a normal user's strata reads a docker
// archive (strata inspect, which unpacks its layers with their owners).
func TestRootlessInspectArchive(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	ctx := r.context("ctx", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\nUSER app\nRUN echo hi > /home/app/hello\n"})
	archive := filepath.Join(r.dir, "img.tar")
	r.mustStrata("build", "--progress", "plain", "--network", "none", "-t", "insp:1", "-o", "type=docker,dest="+archive, ctx)
	r.mustStrata("rm", "insp:1")
	out := r.mustStrata("inspect", "--plain", "docker-archive:"+archive)
	for _, w := range []string{"ADD rootfs.tar /", "RUN echo hi > /home/app/hello"} {
		if !strings.Contains(out, w) {
			t.Errorf("inspect does not show %q:\n%s", w, out)
		}
	}
}

// TestRootlessTUI: the TUI as a normal user in tmux: the example builds,
// the RUN step's Files show its file, s opens a shell in the snapshot (as
// root of the namespace, the user on the host), q quits; nothing of strata
// is left running.
func TestRootlessTUI(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	requireTool(t, "tmux", "slirp4netns")
	exitFile := filepath.Join(r.dir, "exit")
	argv := r.command("example", "--dir", filepath.Join(r.dir, "ex")).Args
	cmd := "cd " + r.dir + " && " + strings.Join(argv, " ") + "; echo $? > " + exitFile + "; sleep 60"
	s := newTmux(t, 120, 36, cmd)
	s.waitFor("build complete", 90*time.Second)
	s.keys("g")
	for i := 0; i < 5; i++ {
		s.keys("j")
	}
	s.waitFor("[6/10] RUN", 5*time.Second)
	s.keys("3") // Files
	scr := s.waitFor("motd", 10*time.Second)
	if !strings.Contains(scr, "data") {
		t.Errorf("Files does not show the RUN step's directory:\n%s", scr)
	}
	s.keys("s")
	s.waitFor("(strata) ", 30*time.Second)
	s.keys("cat /srv/data/motd; echo uid=$(id -u) map=$(tail -1 /proc/self/uid_map | tr -s ' ')", "Enter")
	scr = s.waitFor("map=", 10*time.Second)
	if !strings.Contains(scr, "hello from strata") || !strings.Contains(scr, "uid=0 map= 1 ") {
		t.Errorf("the shell is not in the snapshot as root of the user's namespace:\n%s", scr)
	}
	s.keys("exit", "Enter")
	s.waitFor("shell closed", 20*time.Second)
	s.keys("q")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(exitFile); err == nil {
			if strings.TrimSpace(string(b)) != "0" {
				t.Errorf("strata exited %s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strata did not exit after q; screen:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p := userProcesses(t, r.bin); len(p) > 0 {
		t.Errorf("processes left: %v", p)
	}
	if ents, _ := os.ReadDir(filepath.Join(r.state(), "tmp")); len(ents) != 0 {
		t.Errorf("scratch dirs left in the state folder: %v", ents)
	}
}

// TestRootlessPruneAll: after rm of the images, prune --all leaves a state
// folder with no file of a subordinate id, which the user removes with rm.
func TestRootlessPruneAll(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	requireTool(t, "slirp4netns")
	r.mustStrata("example", "--dir", filepath.Join(r.dir, "ex"), "--progress", "plain")
	ctx := r.context("ctx", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\nUSER app\nRUN --mount=type=cache,target=/home/app/cache,uid=1000 echo x > /home/app/cache/f && echo y > /home/app/f\n"})
	r.mustStrata("build", "--progress", "plain", "-t", "second:1", ctx)
	foreign := func() []string {
		var out []string
		filepath.Walk(r.state(), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Sys().(*syscall.Stat_t).Uid != uint32(r.uid) {
				out = append(out, p)
			}
			return nil
		})
		return out
	}
	if len(foreign()) == 0 {
		t.Fatal("no file of a subordinate id before prune: the test proves nothing")
	}
	r.mustStrata("rm", "strata-example", "second:1")
	r.mustStrata("prune", "--all")
	if f := foreign(); len(f) > 0 {
		t.Errorf("prune --all left files of other ids than the user's: %v", f)
	}
	cmd := exec.Command("setpriv", "--reuid", strconv.Itoa(r.uid), "--regid", strconv.Itoa(r.gid), "--init-groups", "rm", "-rf", r.state())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the user cannot rm -rf the state folder after prune --all: %v\n%s", err, out)
	}
	if _, err := os.Stat(r.state()); !os.IsNotExist(err) {
		t.Errorf("the state folder is still there: %v", err)
	}
}

// TestRootlessNoSubIDRange: without a subordinate range a layer with an
// owner other than root, a RUN's chown 1000 and USER nobody each fail with
// a message naming the usermod command, never a bare EINVAL; a build with
// root-owned files only works.
func TestRootlessNoSubIDRange(t *testing.T) {
	r := asRootlessUser(t, noSubIDUserName)
	want := "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 " + noSubIDUserName
	for _, c := range []struct {
		name, df string
		rootOnly bool
	}{
		{"layer of uid 1000", "FROM scratch\nADD rootfs.tar /\n", false},
		{"RUN chown 1000", "FROM scratch\nADD rootfs.tar /\nRUN touch /f && chown 1000:1000 /f\n", true},
		{"COPY --chown", "FROM scratch\nADD rootfs.tar /\nCOPY --chown=1000:1000 Dockerfile /x\n", true},
	} {
		ctx := r.context(strings.ReplaceAll(c.name, " ", "-"), c.rootOnly, map[string]string{"Dockerfile": c.df})
		out, err := r.strata("build", "--progress", "plain", "--network", "none", ctx)
		if err == nil {
			t.Errorf("%s: the build succeeded without a subordinate range:\n%s", c.name, out)
			continue
		}
		if !strings.Contains(out, want) || !strings.Contains(out, "no subordinate id range") {
			t.Errorf("%s: the error does not name the missing range and %q:\n%s", c.name, want, out)
		}
	}
	// USER nobody: the init cannot become 65534; said with the range too.
	ctx := r.context("user-nobody", true, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\nUSER nobody\nRUN id\n"})
	out, err := r.strata("build", "--progress", "plain", "--network", "none", ctx)
	if err == nil || !strings.Contains(out, "usermod --add-subuids 100000-165535") {
		t.Errorf("USER nobody without a range: %v\n%s", err, out)
	}
	// Root's files only: it works, single mapping said by info.
	ctx = r.context("ok", true, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\nRUN echo ok > /ok\n"})
	r.mustStrata("build", "--progress", "plain", "--network", "none", ctx)
	if out := r.mustStrata("info"); !strings.Contains(out, "single: images with owners other than root fail") || !strings.Contains(out, want) {
		t.Errorf("info does not say the mapping is single:\n%s", out)
	}
}

// TestRootlessNoUidmap: a user with a range but no newuidmap/newgidmap in
// PATH gets the single mapping, and the message names the uidmap package.
func TestRootlessNoUidmap(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	ctx := r.context("ctx", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\n"})
	cmd := r.command("build", "--progress", "plain", "--network", "none", ctx)
	for i, a := range cmd.Args {
		if strings.HasPrefix(a, "PATH=") {
			cmd.Args[i] = "PATH=/nonexistent"
		}
	}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "newuidmap and newgidmap are not installed (apt-get install uidmap)") {
		t.Errorf("a layer of uid 1000 without newuidmap: %v\n%s", err, out)
	}
}

// TestRootlessUserNSDisabled: with user namespaces disabled
// (user.max_user_namespaces=0, set in a user namespace of the test's own,
// where it holds for the user's strata inside) every command that needs
// one says so and what to do, and writes nothing; strata info still runs
// and says why.
func TestRootlessUserNSDisabled(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	// root's own namespace, all ids mapped, user.max_user_namespaces=0
	// there, then the user's strata.
	run := func(args ...string) (string, error) {
		inner := r.command(args...)
		script := `echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"`
		cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, inner.Args...)...)
		ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1 << 20}}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: ids, GidMappings: ids, GidMappingsEnableSetgroups: true}
		cmd.Dir = r.dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("images")
	if err == nil || !strings.Contains(out, "user namespaces are disabled (user.max_user_namespaces=0)") || !strings.Contains(out, "sysctl -w user.max_user_namespaces=") {
		t.Errorf("images with user namespaces disabled: %v\n%s", err, out)
	}
	if _, err := os.Stat(r.state()); !os.IsNotExist(err) {
		t.Errorf("the state folder was created before the refusal: %v", err)
	}
	out, err = run("info")
	if err != nil || !strings.Contains(out, "user.max_user_namespaces=0") || !strings.Contains(out, "mode:          rootless") {
		t.Errorf("info with user namespaces disabled: %v\n%s", err, out)
	}
}

// TestRootlessLimits: --memory and --pids-limit without root need a
// delegated cgroup v2 subtree; where there is none (cgroup v1, or v2 not
// delegated) the build is refused with a message saying so, never run
// without the limit. Where there is one, the limit holds.
func TestRootlessLimits(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	var info infoReport
	if err := json.Unmarshal([]byte(r.mustStrata("info", "--format", "json")), &info); err != nil {
		t.Fatal(err)
	}
	ctx := r.context("ctx", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\nRUN echo ran > /ran\n"})
	for _, flag := range [][]string{{"--memory", "64m"}, {"--pids-limit", "20"}} {
		// a state folder of its own: the refusal must leave it unwritten
		xdg := filepath.Join(r.dir, "xdg"+flag[0])
		if err := os.Mkdir(xdg, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(xdg, r.uid, r.gid); err != nil {
			t.Fatal(err)
		}
		r.env = []string{"XDG_DATA_HOME=" + xdg}
		args := append([]string{"build", "--progress", "plain", "--no-cache", "--network", "none"}, flag...)
		out, err := r.strata(append(args, ctx)...)
		r.env = nil
		if info.Sandbox.Limits {
			if err != nil {
				t.Errorf("%s with a delegated cgroup: %v\n%s", flag[0], err, out)
			}
			continue
		}
		if err == nil || !strings.Contains(out, flag[0]+" needs a cgroup v2 subtree delegated to the user") || !strings.Contains(out, "Delegate=yes") {
			t.Errorf("%s without delegation (%s): %v\n%s", flag[0], info.Sandbox.LimitsWhy, err, out)
		}
		if strings.Contains(out, "Successfully built") {
			t.Errorf("%s: built without the limit:\n%s", flag[0], out)
		}
		// refused before anything is written: no step ran, no store
		if strings.Contains(out, "Step 1/") || strings.Contains(out, "STEP 1/") {
			t.Errorf("%s: refused only once the build had begun:\n%s", flag[0], out)
		}
		var made []string
		filepath.WalkDir(xdg, func(p string, d fs.DirEntry, err error) error {
			if p != xdg {
				made = append(made, strings.TrimPrefix(p, xdg+"/"))
			}
			if d != nil && d.IsDir() && strings.Count(strings.TrimPrefix(p, xdg), "/") >= 2 {
				return fs.SkipDir // strata/layers is enough to say
			}
			return nil
		})
		if len(made) > 0 {
			t.Errorf("%s: the refused build wrote %v in its state folder", flag[0], made)
		}
	}
}

// TestRootlessIsolation: a RUN of a normal user's strata is no more than
// the user: a host file the user cannot read does not get in (the build
// fails reading it), a root-owned host file bound into the RUN (rw, the
// upper thrown away as in BuildKit) cannot be written, the host's
// processes are not seen, and the container's root cannot touch
// /proc/sysrq-trigger. As root the same write succeeds (into the thrown
// away upper): the refusal is the user namespace's.
func TestRootlessIsolation(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	ctx := r.context("ctx", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\n" +
		"RUN --mount=type=bind,source=hostfiles,target=/host,rw cat /host/secret\n"})
	hostfiles := filepath.Join(ctx, "hostfiles")
	if err := os.Mkdir(hostfiles, 0o755); err != nil {
		t.Fatal(err)
	}
	// owned by the host's root: 0600 unreadable, 0644 readable, not writable
	if err := os.WriteFile(filepath.Join(hostfiles, "secret"), []byte("top secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostfiles, "rootowned"), []byte("root's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := r.strata("build", "--progress", "plain", "--no-cache", "--network", "none", ctx)
	if err == nil || strings.Contains(out, "top secret") || !strings.Contains(out, "permission denied") {
		t.Errorf("a host file the user cannot read: %v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(hostfiles, "secret")); err != nil {
		t.Fatal(err)
	}
	// a host process of root the container must not see
	sleeper := exec.Command("sleep", "312")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	script := `echo x >> /host/rootowned && echo WROTE-ROOT-FILE; touch /proc/sysrq-trigger && echo TOUCHED-SYSRQ; ` +
		`ps -o pid,args | grep -v grep | grep -q "sleep 312" && echo SAW-HOST-PROCESS; echo uid=$(id -u) done`
	df := "FROM scratch\nADD rootfs.tar /\nRUN --mount=type=bind,source=hostfiles,target=/host,rw " + script + "\n"
	r.writeFiles(ctx, map[string]string{"Dockerfile": df})
	out = r.mustStrata("build", "--progress", "plain", "--no-cache", "--network", "none", ctx)
	if !strings.Contains(out, "uid=0 done") {
		t.Fatalf("the RUN did not run as the container's root:\n%s", out)
	}
	for _, bad := range []string{"WROTE-ROOT-FILE", "TOUCHED-SYSRQ", "SAW-HOST-PROCESS"} {
		if slices.Contains(strings.Split(out, "\n"), bad) {
			t.Errorf("the RUN did what the user cannot (%s):\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "Permission denied") {
		t.Errorf("writing the root-owned file did not fail with Permission denied:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(hostfiles, "rootowned")); string(b) != "root's\n" {
		t.Errorf("the root-owned host file was changed: %q", b)
	}
	// the same RUN as root writes (into the thrown-away upper)
	out = mustStrata(t, "build", "--root", filepath.Join(r.dir, "rootstore"), "--progress", "plain", "--no-cache", "--network", "none", ctx)
	if !slices.Contains(strings.Split(out, "\n"), "WROTE-ROOT-FILE") {
		t.Errorf("as root the write through the rw bind fails too, so the test proves nothing:\n%s", out)
	}
}

// TestRootlessPushPull: a normal user's strata pushes an image with owners
// other than root to a registry and pulls it back into a fresh state
// folder, where it runs with those owners.
func TestRootlessPushPull(t *testing.T) {
	r := asRootlessUser(t, rootlessUserName)
	requireTool(t, "docker-registry")
	addr, stop := startRegistry(t)
	defer stop()
	ctx := r.context("ctx", false, map[string]string{"Dockerfile": "FROM scratch\nADD rootfs.tar /\nUSER app\nRUN echo mine > /home/app/mine\n"})
	ref := addr + "/rootless/img:1"
	r.mustStrata("build", "--progress", "plain", "--network", "none", "-t", ref, ctx)
	r.mustStrata("push", ref)
	r.xdg = filepath.Join(r.dir, "xdg2") // a fresh state folder
	if err := os.Mkdir(r.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(r.xdg, r.uid, r.gid); err != nil {
		t.Fatal(err)
	}
	r.mustStrata("pull", ref)
	if got := r.mustStrata("run", "--network", "none", ref, "stat", "-c", "%u:%g %n", "/home/app/mine"); got != "1000:1000 /home/app/mine\n" {
		t.Errorf("pulled image: %q, want /home/app/mine of 1000:1000", got)
	}
}
