package sandbox

import (
	"errors"
	"testing"
)

// TestOOMKilled: a command that allocates past Spec.Memory is killed by the
// memory cgroup's OOM killer, and Run says so with an *OOMError naming the
// limit; a command that exits 137 by itself or succeeds under a limit has
// no such error.
func TestOOMKilled(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "awk", `BEGIN { s = "x"; while (1) s = s s }`)
	spec.ID = testID
	spec.Memory = 32 << 20
	r := run(t, spec)
	var oe *OOMError
	if !errors.As(r.err, &oe) {
		t.Fatalf("Run = %d, %v; want an *OOMError\nstderr: %s", r.code, r.err, r.stderr)
	}
	if r.code != 137 || oe.Code != 137 || oe.Limit != 32<<20 {
		t.Errorf("Run = %d, %+v; want 137 and the limit", r.code, oe)
	}
	if got, want := oe.Error(), "killed: out of memory (limit 32 MiB)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := oe.Message("--memory"), "killed: out of memory (limit 32 MiB, --memory)"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}

	spec = newSpec(t, lower, "sh", "-c", "sleep 60 & kill -9 $!; wait $!")
	spec.Memory = 32 << 20
	if r := run(t, spec); r.code != 137 || r.err != nil {
		t.Errorf("SIGKILL without OOM: Run = %d, %v; want 137, nil", r.code, r.err)
	}
	spec = newSpec(t, lower, "true")
	spec.Memory = 32 << 20
	mustRun(t, spec)
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1 KiB", 64 << 20: "64 MiB", 3 << 29: "1.5 GiB", 1<<30 + 1: "1.0 GiB", 6 << 50: "6 PiB",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
