package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// requireSandbox skips the test, with the reason, when containers cannot run.
func requireSandbox(t testing.TB) {
	t.Helper()
	if err := Supported(); err != nil {
		t.Skipf("sandbox not supported here: %v", err)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs a static busybox at /bin/busybox (Debian package busybox-static)")
	}
}

func cleanupReport() {
	if reportBin != "" && reportErr == nil {
		os.RemoveAll(filepath.Dir(reportBin))
	}
}

var (
	reportOnce sync.Once
	reportBin  string
	reportErr  error
)

// buildReport builds testdata/report statically, once per test binary.
func buildReport(t testing.TB) string {
	t.Helper()
	reportOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strata-report-")
		if err != nil {
			reportErr = err
			return
		}
		reportBin = filepath.Join(dir, "report")
		cmd := exec.Command("go", "build", "-o", reportBin, "./testdata/report")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			reportErr = err
			reportBin = string(out)
		}
	})
	if reportErr != nil {
		t.Fatalf("build report program: %v\n%s", reportErr, reportBin)
	}
	return reportBin
}

const rootfsPasswd = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
`

const rootfsGroup = `root:x:0:root
wheel:x:10:root,app
app:x:1000:
dev:x:2000:app
audio:x:2001:app
nogroup:x:65534:
`

// busyboxRootfs makes a lower dir with busybox and all its applets in /bin,
// /etc/passwd and /etc/group, and the report program as /bin/report. It has
// no /proc, /dev, /sys or /etc/hosts: the sandbox must create (and remove)
// those mount points itself.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	requireSandbox(t)
	report := buildReport(t)
	root := filepath.Join(t.TempDir(), "lower")
	for _, d := range []string{"bin", "etc", "home/app", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(root, "home/app"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "/bin/busybox", filepath.Join(root, "bin/busybox"), 0o755)
	copyFile(t, report, filepath.Join(root, "bin/report"), 0o755)
	out, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, name := range strings.Fields(string(out)) {
		if name == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", name)); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(rootfsPasswd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte(rootfsGroup), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// newSpec returns a spec over lower with fresh upper/work/tmp dirs.
func newSpec(t testing.TB, lower string, args ...string) *Spec {
	t.Helper()
	base := t.TempDir()
	spec := &Spec{Upper: filepath.Join(base, "upper"), Work: filepath.Join(base, "work"), TmpDir: filepath.Join(base, "tmp"), Args: args}
	if lower != "" {
		spec.Lower = []string{lower}
	}
	for _, d := range []string{spec.Upper, spec.Work, spec.TmpDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return spec
}

type result struct {
	code           int
	err            error
	stdout, stderr string
}

func run(t testing.TB, spec *Spec) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code, err := Run(context.Background(), spec, &stdout, &stderr)
	checkNoLeftovers(t, spec)
	return result{code, err, stdout.String(), stderr.String()}
}

// mustRun runs spec and fails unless it exits 0.
func mustRun(t testing.TB, spec *Spec) result {
	t.Helper()
	r := run(t, spec)
	if r.err != nil || r.code != 0 {
		t.Fatalf("Run(%q) = %d, %v\nstdout: %s\nstderr: %s", spec.Args, r.code, r.err, r.stdout, r.stderr)
	}
	return r
}

type reportT struct {
	Pid, Ppid  int
	Procs      []int
	Hostname   string
	UID, GID   int
	EUID       int
	Groups     []int
	CapEff     string
	CapPrm     string
	CapBnd     string
	CapInh     string
	CapAmb     string
	NoNewPrivs string
	Mounts     []string
	Cwd        string
	Env        []string
	WroteRoot  string
	NoFile     string
	Netdevs    []string
}

func runReport(t testing.TB, spec *Spec) reportT {
	t.Helper()
	spec.Args = []string{"report"}
	r := mustRun(t, spec)
	var rep reportT
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report output: %v\n%s", err, r.stdout)
	}
	return rep
}

// checkNoLeftovers: no run directory, no mount below the test dirs, no cgroup.
func checkNoLeftovers(t testing.TB, spec *Spec) {
	t.Helper()
	if ents, err := os.ReadDir(spec.TmpDir); err != nil || len(ents) != 0 {
		t.Errorf("run directory left in %s: %v %v", spec.TmpDir, ents, err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, dir := range []string{spec.TmpDir, spec.Upper, filepath.Dir(spec.Upper)} {
		if strings.Contains(string(mi), dir) {
			t.Errorf("mount left under %s:\n%s", dir, mi)
		}
	}
	if spec.ID != "" {
		if parents, err := cgroupParents(); err == nil {
			for _, p := range parents {
				if _, err := os.Stat(filepath.Join(p, cgroupName(spec.ID))); err == nil {
					t.Errorf("cgroup %s left", filepath.Join(p, cgroupName(spec.ID)))
				}
			}
		}
	}
}

// upperEntries lists everything in the upper dir, relative, sorted.
func upperEntries(t testing.TB, upper string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(upper, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != upper {
			rel, _ := filepath.Rel(upper, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type syscallStat = syscall.Stat_t
