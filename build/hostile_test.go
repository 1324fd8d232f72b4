package build

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
)

// A build context, an image and a RUN are written by strangers. These
// tests are the reproductions of the ways they reached the host: each makes
// a host directory of its own, aims the build at it through a symlink, and
// checks the directory is exactly as it was.

// hostDir is testutil.HostDir.
func hostDir(t *testing.T) (dir string, snapshot func() string) {
	t.Helper()
	return testutil.HostDir(t)
}

// COPY da db /dst/: da/x is a symlink to a host dir; db/x/pwned is then
// written to /dst/x/pwned. It must not land in the host dir.
func TestCopyNeverWritesThroughItsOwnSymlink(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	host, snap := hostDir(t)
	before := snap()
	for _, tc := range []struct{ name, link, df string }{
		{"absolute link, re-included file", host, "COPY da db /dst/"},
		{"relative link climbing out", "../../../../../../../../../../../../../.." + host, "COPY da db /dst/"},
		{"re-included directory", host, "COPY da dc /dst/"},
		{"ADD of an archive through the link", host, "COPY da /dst/\nADD evil.tar /dst/x/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{
				"da/x":          "->" + tc.link,
				"db/x/pwned":    "attacker",
				"dc/x/cron/":    "",
				"dc/x/cron/new": "attacker",
				".dockerignore": "db/x\n!db/x/pwned\n",
				"evil.tar":      string(tarOf(t, map[string]string{"pwned": "attacker", "cron/": ""})),
			}
			r := build(t, store, "FROM scratch\n"+tc.df+"\n", files, frontend.Options{})
			if after := snap(); after != before {
				t.Fatalf("the host dir changed (build error: %v):\nbefore:\n%s\nafter:\n%s", r.err, before, after)
			}
			if r.err == nil {
				// Succeeding is fine as long as nothing left the layer: the
				// file is then inside the image.
				return
			}
			if msg := r.err.Error(); !strings.Contains(msg, "outside") && !strings.Contains(msg, "symlink") {
				t.Errorf("the error does not say what happened: %v", r.err)
			}
		})
	}
}

// tarOf makes an uncompressed tar of files (a key ending in / is a dir).
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	out := filepath.Join(t.TempDir(), "a.tar")
	if err := runCmd("tar", "-C", dir, "-cf", out, "."); err != nil {
		t.Skipf("needs tar: %v", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// An image whose lower layer holds `a -> HOSTDIR` and whose upper layer
// holds the directories a/ and a/.docker/: COPY --from it must copy what
// the image holds, never the host dir's files.
func TestCopyFromNeverReadsThroughALowerSymlink(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	host, snap := hostDir(t)
	before := snap()
	df := `FROM scratch AS evil
COPY link/ /
COPY --link mine /a/.docker/mine
FROM scratch
COPY --from=evil /a/.docker/ /stolen/
`
	r := build(t, store, df, map[string]string{"link/a": "->" + host, "mine": "image's own"}, frontend.Options{}).mustOK(t)
	checkStep(t, r, r.lastStep(), map[string]entry{"/stolen": dirE, "/stolen/mine": fileE("image's own")})
	if after := snap(); after != before {
		t.Fatalf("host dir changed:\n%s\n%s", before, after)
	}
}

// RUN --mount=type=secret,target=/x/cron/f, then the command moves /x away
// and puts a symlink to a host dir in its place: removing the mount's stub
// must not delete the host's file.
func TestRunStubCleanupNeverFollowsSymlinks(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	host, snap := hostDir(t)
	before := snap()
	secret := filepath.Join(t.TempDir(), "s")
	os.WriteFile(secret, []byte("s3cr3t"), 0o600)
	df := "FROM scratch\nADD rootfs.tar /\nRUN --mount=type=secret,id=s,target=/x/cron/f mv /x /x.old && ln -s " + host + " /x\n"
	ctxDir := writeContext(t, df, map[string]string{"rootfs.tar": string(busyboxRootfs(t))})
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("needs strata's sandbox (root, overlayfs)")
	}
	r := buildIn(t, store, frontend.Options{ContextDir: ctxDir, Secrets: map[string]string{"s": secret}}, runner).mustOK(t)
	if after := snap(); after != before {
		t.Fatalf("host dir changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The symlink is the step's result, as the command left it.
	if c := r.change(t, r.lastStep(), "/x"); c.Type != layers.TypeSymlink || c.Linkname != host {
		t.Errorf("/x is %v -> %q, want the command's symlink", c.Type, c.Linkname)
	}
}

func runCmd(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, out)
	}
	return nil
}
