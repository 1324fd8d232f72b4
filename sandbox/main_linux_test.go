package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary act as the container init when Run
// re-executes it, and as the seccomp wrapper of TestSeccompFilterInKernel.
func TestMain(m *testing.M) {
	Init()
	if os.Getenv(seccompExecEnv) != "" {
		seccompExec()
	}
	if lower := os.Getenv(stdioHelperEnv); lower != "" {
		stdioBrokenPipeCaller(lower)
		os.Exit(0)
	}
	code := m.Run()
	cleanupReport()
	os.Exit(code)
}

// seccompExecEnv makes the test binary exec os.Args[1:], with the seccomp
// filter loaded when its value is "filter".
const seccompExecEnv = "STRATA_TEST_SECCOMP_EXEC"

func seccompExec() {
	runtime.LockOSThread()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(111)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail(err)
	}
	if os.Getenv(seccompExecEnv) == "filter" {
		if err := installSeccomp(); err != nil {
			fail(err)
		}
	}
	fail(unix.Exec(os.Args[1], os.Args[1:], []string{}))
}
