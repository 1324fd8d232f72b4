package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRunOverhead compares one Run of /bin/true (overlay, namespaces,
// /proc /dev /sys, cgroup, user switch, stub cleanup) with the bare minimum,
// `unshare -m -p -f chroot ROOT /bin/true`, in the same benchmark run.
func BenchmarkRunOverhead(b *testing.B) {
	lower := busyboxRootfs(b)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		b.Skip("needs unshare(1) (util-linux) for the baseline")
	}
	base := b.TempDir()
	var sandboxTime, unshareTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(base, fmt.Sprint(i))
		spec := &Spec{
			Lower: []string{lower}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
			TmpDir: base, Args: []string{"/bin/true"},
		}
		for _, d := range []string{spec.Upper, spec.Work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		code, err := Run(context.Background(), spec, nil, nil)
		sandboxTime += time.Since(start)
		if err != nil || code != 0 {
			b.Fatalf("Run = %d, %v", code, err)
		}

		start = time.Now()
		if out, err := exec.Command(unshare, "-m", "-p", "-f", "chroot", lower, "/bin/true").CombinedOutput(); err != nil {
			b.Fatalf("unshare: %v\n%s", err, out)
		}
		unshareTime += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(sandboxTime.Microseconds())/1000/n, "sandbox-ms/op")
	b.ReportMetric(float64(unshareTime.Microseconds())/1000/n, "unshare-ms/op")
	b.ReportMetric(float64((sandboxTime-unshareTime).Microseconds())/1000/n, "overhead-ms/op")
}

// BenchmarkRunSeccomp compares one Run of a syscall-heavy command (dd with
// 1-byte blocks: 200000 read and write calls) with and without the seccomp
// filter, interleaved so that machine noise hits both alike.
func BenchmarkRunSeccomp(b *testing.B) {
	lower := busyboxRootfs(b)
	if _, ok := nativeSeccompArch(); !ok {
		b.Skip("no seccomp filter on this architecture")
	}
	base := b.TempDir()
	var with, without time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, unconfined := range []bool{false, true} {
			dir := filepath.Join(base, fmt.Sprint(i, unconfined))
			spec := &Spec{
				Lower: []string{lower}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
				TmpDir: base, Args: []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=100000"},
				SeccompUnconfined: unconfined,
			}
			for _, d := range []string{spec.Upper, spec.Work} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			start := time.Now()
			code, err := Run(context.Background(), spec, nil, nil)
			d := time.Since(start)
			if err != nil || code != 0 {
				b.Fatalf("Run = %d, %v", code, err)
			}
			if unconfined {
				without += d
			} else {
				with += d
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(with.Microseconds())/1000/n, "seccomp-ms/op")
	b.ReportMetric(float64(without.Microseconds())/1000/n, "unconfined-ms/op")
}
