package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// An image may hold /proc or /dev as a symlink to an absolute path. RUN
// prepares the container's root on the host before it enters it, where
// such a target is a host path: the sandbox must resolve it inside the
// image. Here the image (built from the context by COPY alone) has
// /proc -> HOST and /dev -> HOST2, HOST and HOST2 being directories of the
// image and of the host alike.
func TestRunImageSymlinksStayInRoot(t *testing.T) {
	needRoot(t)
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox-static (apt-get install busybox-static)")
	}
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("needs strata's sandbox (root, overlayfs)")
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	host, snap := hostDir(t)
	for _, d := range []string{"sys", "bus", "fs", "irq"} {
		os.Mkdir(filepath.Join(host, d), 0o755)
	}
	os.WriteFile(filepath.Join(host, "sys", "secret"), []byte("host secret"), 0o600)
	os.WriteFile(filepath.Join(host, "sysrq-trigger"), nil, 0o600)
	host2, snap2 := hostDir(t)
	before, before2 := snap(), snap2()
	store := newStore(t)
	df := `FROM scratch
COPY busybox /bin/busybox
COPY img/ /
SHELL ["/bin/busybox", "sh", "-c"]
RUN /bin/busybox cat /proc/sys/secret > /out 2>&1; /bin/busybox ls /proc/sys >> /out; /bin/busybox ls /dev >> /out
`
	ctxDir := writeContext(t, df, map[string]string{
		"img" + host + "/":  "",
		"img" + host2 + "/": "",
		"img/proc":          "->" + host,
		"img/dev":           "->" + host2,
	})
	os.WriteFile(filepath.Join(ctxDir, "busybox"), data, 0o755)
	r := buildIn(t, store, frontend.Options{ContextDir: ctxDir}, runner)
	if after := snap(); after != before {
		t.Fatalf("the host dir behind /proc changed (build: %v):\nbefore:\n%s\nafter:\n%s", r.err, before, after)
	}
	if after := snap2(); after != before2 {
		t.Fatalf("the host dir behind /dev changed (build: %v):\nbefore:\n%s\nafter:\n%s", r.err, before2, after)
	}
	if r.err != nil {
		return // refusing the image is safe too
	}
	out, err := os.ReadFile(filepath.Join(r.stepLayer(t, r.lastStep()), "out"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "host secret") {
		t.Fatalf("RUN read the host's file through /proc -> %s:\n%s", host, out)
	}
	if !strings.Contains(string(out), "kernel") || !strings.Contains(string(out), "null") {
		t.Errorf("/proc/sys or /dev is not the container's own:\n%s", out)
	}
}

// RUN --mount=type=bind of a context path through a symlink that leads
// outside the context is refused; the command never sees the host dir.
func TestRunMountContextStaysInside(t *testing.T) {
	needRoot(t)
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox-static (apt-get install busybox-static)")
	}
	runner := SandboxRunner()
	if runner == nil {
		t.Skip("needs strata's sandbox (root, overlayfs)")
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	host, snap := hostDir(t)
	before := snap()
	store := newStore(t)
	for _, mnt := range []string{"source=d", "source=d/pwned", "source=d/.docker,rw", "source=r/pwned"} {
		t.Run(mnt, func(t *testing.T) {
			df := "FROM scratch\nCOPY busybox /bin/busybox\nSHELL [\"/bin/busybox\", \"sh\", \"-c\"]\n" +
				"RUN --mount=type=bind," + mnt + ",target=/m /bin/busybox cat /m /m/pwned /m/config.json > /out 2>&1; /bin/busybox touch /m/new; true\n"
			ctxDir := writeContext(t, df, map[string]string{"d": "->" + host, "r": "->../../../../../../../../../../.." + host})
			os.WriteFile(filepath.Join(ctxDir, "busybox"), data, 0o755)
			r := buildIn(t, store, frontend.Options{ContextDir: ctxDir}, runner)
			if after := snap(); after != before {
				t.Fatalf("the host dir changed:\n%s\n%s", before, after)
			}
			if r.err == nil {
				out, _ := os.ReadFile(filepath.Join(r.stepLayer(t, r.lastStep()), "out"))
				t.Fatalf("mounted a context path that leads outside the context; the command read:\n%s", out)
			}
			if !strings.Contains(r.err.Error(), "outside the build context") {
				t.Errorf("the error does not say the source leads outside the context: %v", r.err)
			}
		})
	}
}
