package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStdioNonRoot: a command that is not root can use its own stdio by name,
// as under runc (BuildKit, docker, podman): `echo >/dev/stderr` (what nginx's
// image does), /dev/stdout, /proc/self/fd/N, `exec 2>/dev/stderr`, and
// reading /dev/stdin, whether stdin is /dev/null or a pipe.
func TestStdioNonRoot(t *testing.T) {
	lower := busyboxRootfs(t)
	script := `
echo out >/dev/stdout
echo err >/dev/stderr
echo fd1 >/proc/self/fd/1
echo fd2 >/proc/self/fd/2
exec 2>/dev/stderr
echo again >&2
cat /proc/self/fd/0
cat /dev/stdin
echo id=$(id -u)
`
	for _, tc := range []struct {
		name  string
		stdin string // "" = nil: /dev/null
		user  string
	}{
		{"nobody stdin-devnull", "", "65534"},
		{"nobody-nogroup stdin-pipe", "in\n", "65534:65534"},
		{"app stdin-devnull", "", "app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := newSpec(t, lower, "sh", "-c", script)
			spec.User = tc.user
			if tc.stdin != "" {
				spec.Stdin = strings.NewReader(tc.stdin)
			}
			r := run(t, spec)
			wantOut := "out\nfd1\n" + tc.stdin + "id=" + map[string]string{"65534": "65534", "65534:65534": "65534", "app": "1000"}[tc.user] + "\n"
			if r.err != nil || r.code != 0 || r.stdout != wantOut || r.stderr != "err\nfd2\nagain\n" {
				t.Fatalf("as %s: Run = %d, %v\nstdout %q, want %q\nstderr %q, want %q", tc.user, r.code, r.err, r.stdout, wantOut, r.stderr, "err\nfd2\nagain\n")
			}
		})
	}
}

// TestStdioNonRootTty: with a terminal, the pty slave is the user's, so
// /dev/stderr and /proc/self/fd/0 reopen it.
func TestStdioNonRootTty(t *testing.T) {
	lower := busyboxRootfs(t)
	spec := newSpec(t, lower, "sh", "-c", `echo err >/dev/stderr; echo fd1 >/proc/self/fd/1; exec 2>/dev/stderr; echo again >&2; read x </proc/self/fd/0; echo got:$x`)
	spec.Tty = true
	spec.User = "65534"
	spec.Stdin = strings.NewReader("line\n")
	r := mustRun(t, spec)
	out := strings.ReplaceAll(r.stdout, "\r", "")
	for _, want := range []string{"err\n", "fd1\n", "again\n", "got:line\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("tty output %q lacks %q", out, want)
		}
	}
}

// TestStdioCallerFiles: a caller's files given as stdin, stdout or stderr
// (a host file, strata's own terminal) never reach the container: it gets
// pipes of the run, which its user can reopen, while the host files keep
// their owner and mode, and the container's root, reopening its stdin for
// writing, cannot write the host file that was only given to be read.
func TestStdioCallerFiles(t *testing.T) {
	lower := busyboxRootfs(t)
	dir := t.TempDir()
	open := func(name, content string, flag int) *os.File {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	in := open("in", "secret input\n", os.O_RDONLY)
	out := open("out", "", os.O_WRONLY|os.O_APPEND)
	errf := open("err", "", os.O_WRONLY|os.O_APPEND)

	// As root in the container first: reopening stdin for writing reaches
	// only the run's own pipe.
	spec := newSpec(t, lower, "sh", "-c", `test -p /dev/stdin && test -p /dev/stdout && test -p /dev/stderr && echo pipes; echo pwned >/proc/self/fd/0; echo root-err >&2`)
	spec.Stdin = in
	code, err := Run(context.Background(), spec, out, errf)
	checkNoLeftovers(t, spec)
	if err != nil || code != 0 {
		t.Fatalf("Run as root = %d, %v", code, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "in")); string(b) != "secret input\n" {
		t.Fatalf("the container's root wrote the host file given as its stdin: it now holds %q", b)
	}
	// Then as nobody, the same files again.
	if _, err := in.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	spec = newSpec(t, lower, "sh", "-c", `echo out >/dev/stdout; echo err >/dev/stderr; cat /dev/stdin`)
	spec.User = "65534"
	spec.Stdin = in
	code, err = Run(context.Background(), spec, out, errf)
	checkNoLeftovers(t, spec)
	if err != nil || code != 0 {
		t.Fatalf("Run as nobody = %d, %v", code, err)
	}
	for name, want := range map[string]string{"in": "secret input\n", "out": "pipes\nout\nsecret input\n", "err": "root-err\nerr\n"} {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("host file %s = %q, want %q", name, b, want)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 0 || st.Gid != 0 || st.Mode&0o7777 != 0o600 {
			t.Errorf("host file %s is now %d:%d %o, want 0:0 600 as before the runs", name, st.Uid, st.Gid, st.Mode&0o7777)
		}
	}
}

// TestStdioBrokenPipe: `strata run IMAGE yes | head -1`: when the reader of
// the caller's own stdout goes away, the command gets SIGPIPE (exit 141) and
// Run returns and cleans up; the caller is not killed by SIGPIPE, as Go kills
// a program whose write to its fd 1 or 2 fails with EPIPE.
func TestStdioBrokenPipe(t *testing.T) {
	lower := busyboxRootfs(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), stdioHelperEnv+"="+lower)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	out.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the caller still runs 60s after its stdout's reader left\n%s", stderr.String())
	}
	if line != "y\n" || err != nil {
		t.Errorf("first line %q, %v; want \"y\\n\"", line, err)
	}
	if werr != nil || !strings.Contains(stderr.String(), "RESULT code=141 err=<nil> leftovers=0") {
		t.Fatalf("caller: %v (want exit 0, Run = 141, nil)\n%s", werr, stderr.String())
	}
}

const stdioHelperEnv = "STRATA_TEST_STDIO_LOWER"

// stdioBrokenPipeCaller is the caller of TestStdioBrokenPipe, in its own
// process (TestMain runs it when stdioHelperEnv is set): Run with this
// process's stdout and stderr, then report on stderr.
func stdioBrokenPipeCaller(lower string) {
	base, err := os.MkdirTemp("", "strata-stdio-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "RESULT setup: %v\n", err)
		os.Exit(2)
	}
	defer os.RemoveAll(base)
	spec := &Spec{Upper: filepath.Join(base, "upper"), Work: filepath.Join(base, "work"), TmpDir: filepath.Join(base, "tmp"),
		Lower: []string{lower}, Args: []string{"sh", "-c", "yes; exit $?"}}
	for _, d := range []string{spec.Upper, spec.Work, spec.TmpDir} {
		os.Mkdir(d, 0o755)
	}
	code, err := Run(context.Background(), spec, os.Stdout, os.Stderr)
	left, _ := os.ReadDir(spec.TmpDir)
	fmt.Fprintf(os.Stderr, "RESULT code=%d err=%v leftovers=%d\n", code, err, len(left))
}

// orderWriter records each Write; it is the same writer for both streams.
type orderWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *orderWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestStdioOneWriterKeepsOrder: given the same writer for stdout and
// stderr, Run delivers what the command wrote to fds 1 and 2 in the order it
// wrote it (one pipe, as 2>&1); given two writers, each gets its own stream.
func TestStdioOneWriterKeepsOrder(t *testing.T) {
	lower := busyboxRootfs(t)
	const n = 200
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo out$i; echo err$i >&2; i=$((i+1)); done`, n)
	var want, wantOut, wantErr strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&want, "out%d\nerr%d\n", i, i)
		fmt.Fprintf(&wantOut, "out%d\n", i)
		fmt.Fprintf(&wantErr, "err%d\n", i)
	}

	for _, user := range []string{"", "65534"} {
		spec := newSpec(t, lower, "sh", "-c", script+`; test /proc/self/fd/1 -ef /proc/self/fd/2 && echo same-pipe; echo x >/dev/stderr`)
		spec.User = user
		var w orderWriter
		code, err := Run(context.Background(), spec, &w, &w)
		checkNoLeftovers(t, spec)
		if got, wantAll := w.buf.String(), want.String()+"same-pipe\nx\n"; err != nil || code != 0 || got != wantAll {
			t.Fatalf("Run with one writer (user %q) = %d, %v; output differs from the order written at line %d: %s",
				user, code, err, firstDiffLine(got, wantAll), lastLines(got, 3))
		}
	}

	spec := newSpec(t, lower, "sh", "-c", script+`; test /proc/self/fd/1 -ef /proc/self/fd/2 || echo two-pipes`)
	r := mustRun(t, spec)
	if r.stdout != wantOut.String()+"two-pipes\n" || r.stderr != wantErr.String() {
		t.Fatalf("two writers: stdout %q\nstderr %q", r.stdout, r.stderr)
	}
}

// firstDiffLine is the 1-based number of the first line where a and b differ.
func firstDiffLine(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range la {
		if i >= len(lb) || la[i] != lb[i] {
			return i + 1
		}
	}
	return len(la) + 1
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return fmt.Sprintf("%q", strings.Join(l, "\n"))
}
