package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const runDirPrefix = "strata-run-"

// Supported reports why the sandbox cannot run here, or nil.
func Supported() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("sandbox: needs root, or root of a user namespace (euid is %d): strata enters one itself when a normal user runs it", os.Geteuid())
	}
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if !strings.Contains(string(b), "\toverlay\n") {
		return errors.New("sandbox: the kernel has no overlay filesystem (modprobe overlay)")
	}
	for _, ns := range []string{"mnt", "pid", "uts", "ipc", "net"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			return fmt.Errorf("sandbox: the kernel has no %s namespaces: %w", ns, err)
		}
	}
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		return fmt.Errorf("sandbox: cannot re-execute this binary: %w", err)
	}
	return nil
}

func validate(spec *Spec) error {
	if spec == nil {
		return errors.New("sandbox: nil spec")
	}
	if len(spec.Args) == 0 {
		return errors.New("sandbox: spec has no command (Args is empty)")
	}
	if spec.Upper == "" || spec.Work == "" {
		return errors.New("sandbox: spec needs Upper and Work directories")
	}
	if err := CheckNetwork(spec.Network); err != nil {
		return err
	}
	if spec.ID != "" {
		if _, err := hex.DecodeString(spec.ID); err != nil || len(spec.ID) < 12 {
			return fmt.Errorf("sandbox: container id %q: want at least 12 hex digits", spec.ID)
		}
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Target) {
			return fmt.Errorf("sandbox: mount target %q: must be absolute", m.Target)
		}
		switch m.Type {
		case "", "bind", "tmpfs":
		case "overlay":
			for _, l := range m.Lower {
				if !filepath.IsAbs(l) || strings.ContainsAny(l, ",:") {
					return fmt.Errorf("sandbox: overlay mount on %s: lower dir %q must be absolute and contain no ',' or ':'", m.Target, l)
				}
			}
		default:
			return fmt.Errorf("sandbox: mount %q on %s: unknown type (want bind, tmpfs or overlay)", m.Type, m.Target)
		}
	}
	return nil
}

// Run starts the container described by spec and waits for its command.
// exitCode is the command's exit status (128+signal when killed). err reports
// setup failures (naming the failed operation), an *ExecError when the
// command cannot be executed (with exitCode 127 or 126), an *OOMError (with
// the exit code) when the command failed and the memory limit's OOM killer
// killed in the container, and cancellation of
// ctx (the whole container is killed first; exitCode is then 137).
//
// Run leaves no process, mount, cgroup or temporary directory behind, and
// removes from spec.Upper the mount points it had to create.
//
// stdout and stderr get what the command writes to fds 1 and 2 (nil
// discards: the fd is /dev/null). Without Spec.Tty each is a pipe of this
// run, which Run copies to the writer, even for an *os.File (the container
// never gets the caller's files), and which belongs to the command's user, so
// that /dev/stdout, /dev/stderr and /proc/self/fd/N reopen as under runc. The
// same writer for both (stdout == stderr) gets one pipe as fd 1 and fd 2, as
// 2>&1 gives: the writer sees both streams in the order the command wrote
// them, and from one goroutine. Two writers get two pipes copied by two
// goroutines: each stream keeps its own order, but not the order between
// them. With Spec.Tty both are the terminal and only stdout is written to.
func Run(ctx context.Context, spec *Spec, stdout, stderr io.Writer) (exitCode int, err error) {
	if err := validate(spec); err != nil {
		return -1, err
	}
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	id := spec.ID
	if id == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = id[:12]
	}
	tmpRoot := spec.TmpDir
	if tmpRoot == "" {
		tmpRoot = os.TempDir()
	}
	runDir, err := os.MkdirTemp(tmpRoot, runDirPrefix+id[:12]+"-")
	if err != nil {
		return -1, fmt.Errorf("sandbox: create run directory: %w", err)
	}
	defer os.RemoveAll(runDir)

	cfg := initConfig{
		Rootfs:   filepath.Join(runDir, "rootfs"),
		Lower:    spec.Lower,
		Upper:    spec.Upper,
		Work:     spec.Work,
		Args:     spec.Args,
		Env:      spec.Env,
		Dir:      spec.Dir,
		User:     spec.User,
		Hostname: hostname,
		BuildEtc: spec.BuildEtc,
		NetNone:  spec.Network == NetworkNone,
		NetSlirp: spec.Network == "" || spec.Network == NetworkDefault,
		Tty:      spec.Tty,

		NoSeccomp: spec.SeccompUnconfined,
	}
	if err := prepareRunDir(runDir, &cfg); err != nil {
		return -1, err
	}
	if cfg.Mounts, err = prepareMounts(runDir, spec.Mounts); err != nil {
		return -1, err
	}
	cs, err := prepareCopy(runDir, &cfg) // nil but for the copying snapshotter
	if err != nil {
		return -1, err
	}
	fuse, err := prepareFuse(&cfg) // nil but for fuse-overlayfs
	if err != nil {
		return -1, err
	}
	defer fuse.unmount() // on early returns; after the run it is done below
	var fuseStart time.Time
	var fuseRoot dirTimes
	if fuse != nil {
		fuseStart = time.Now()
		if fuseRoot, err = upperRootTimes(cfg.Upper); err != nil {
			return -1, fmt.Errorf("sandbox: %w", err)
		}
	}

	cg, err := newCgroup(id, spec.Memory, spec.PidsLimit)
	if err != nil {
		return -1, err
	}
	defer cg.remove()

	c, err := start(ctx, &cfg, spec, stdout, stderr)
	if err != nil {
		return -1, err
	}
	defer c.release()
	pid := c.cmd.Process.Pid
	if spec.Trace != nil {
		// Subscribed before the go: the init cannot exec the command yet.
		if tr, err := startTracer(pid); err != nil {
			spec.Trace.Err = fmt.Errorf("sandbox: record processes: %w", err)
		} else {
			tr.cg = cg
			defer tr.stop(spec.Trace)
		}
	}
	var slirp *slirpNet // the default network: started now, awaited before the command
	if cfg.NetSlirp {
		if slirp, err = startSlirp(pid); err != nil {
			c.kill()
			c.wait()
			return -1, err
		}
		defer slirp.stop()
	}

	if err := cg.add(pid); err != nil {
		c.kill()
		c.wait()
		return -1, err
	}
	if err := c.sendConfig(&cfg); err != nil {
		c.kill()
		c.wait()
		return -1, err
	}
	var readyErr error
	msgs, readErr := c.readMessages(func() {
		// The init waits for this before exec. The pty master was sent
		// before Ready: take it and size the terminal now, so that the
		// command sees the caller's size from its start.
		if c.tty != nil {
			readyErr = c.tty.receive()
		}
		if readyErr == nil && slirp != nil {
			readyErr = slirp.waitReady(ctx)
		}
		// The pids limit only now: the init's own (Go runtime) threads
		// would count against it.
		if readyErr == nil {
			readyErr = cg.limitPids(spec.PidsLimit)
		}
		if readyErr != nil {
			c.kill() // before the go: the command never starts
		}
	})
	var st *stubs
	var setupErr error
	ready := false
	for _, m := range msgs {
		switch {
		case m.Stubs != nil:
			st = m.Stubs
		case m.Exec != nil:
			setupErr = m.Exec
			exitCode = m.Exec.Code
		case m.Error != "":
			setupErr = errors.New("sandbox: " + m.Error)
		case m.Ready:
			ready = true
		}
	}
	if setupErr == nil && readErr != nil {
		setupErr = fmt.Errorf("sandbox: read init messages: %w", readErr)
	}
	died := setupErr == nil && !ready
	if died {
		setupErr = errors.New("sandbox: container init died during setup")
	}
	if setupErr == nil {
		setupErr = readyErr
	}
	if setupErr != nil {
		c.kill()
	} else {
		c.startIO()
	}
	state := c.wait()
	slirp.exit() // the network's teardown overlaps the rest; the deferred stop reaps it
	if died && ctx.Err() == nil && state != nil {
		setupErr = fmt.Errorf("%w (%s)", setupErr, state)
	}
	// The container has ended: the fuse-overlayfs daemon writes nothing
	// more to the upper dir once unmounted, and must exit.
	if err := fuse.unmount(); err != nil && setupErr == nil && ctx.Err() == nil {
		setupErr = err
	}
	if fuse != nil {
		if err := normalizeUpper(cfg.Upper, cfg.Lower); err != nil && setupErr == nil && ctx.Err() == nil {
			setupErr = fmt.Errorf("sandbox: fuse-overlayfs: the upper dir after the run: %w", err)
		}
	}
	if st != nil {
		if err := cleanStubs(cfg.Upper, st); err != nil && setupErr == nil && ctx.Err() == nil {
			setupErr = err
		}
	}
	if fuse != nil && ctx.Err() == nil {
		if err := fixCopyUpTimes(cfg.Upper, cfg.Lower, fuseRoot, fuseStart); err != nil && setupErr == nil {
			setupErr = fmt.Errorf("sandbox: fuse-overlayfs: directory times after the run: %w", err)
		}
	}
	if cs != nil && ctx.Err() == nil {
		if err := cs.diffInto(spec.Upper); err != nil && setupErr == nil {
			setupErr = err
		}
	}
	if ctx.Err() != nil {
		return 128 + int(syscall.SIGKILL), fmt.Errorf("sandbox: container %s: %w", id[:12], context.Cause(ctx))
	}
	if setupErr != nil {
		var execErr *ExecError
		if errors.As(setupErr, &execErr) {
			return exitCode, setupErr
		}
		return -1, setupErr
	}
	if state == nil {
		return -1, errors.New("sandbox: container init vanished")
	}
	code := exitStatus(state)
	return code, cg.oomError(code, spec.Memory) // before the deferred cg.remove
}

func exitStatus(ps *os.ProcessState) int {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// prepareRunDir creates the overlay mount point, the empty lower dir for
// scratch, and the /etc files.
func prepareRunDir(runDir string, cfg *initConfig) error {
	if err := os.WriteFile(filepath.Join(runDir, "owner"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if err := os.Mkdir(cfg.Rootfs, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if len(cfg.Lower) == 0 {
		empty := filepath.Join(runDir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		cfg.Lower = []string{empty}
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	hosts += "127.0.1.1\t" + cfg.Hostname + "\n"
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil || cfg.NetNone {
		resolv = nil
	}
	if len(resolv) == 0 && !cfg.NetNone {
		resolv = []byte("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
	}
	if cfg.NetSlirp {
		resolv = slirpResolvConf(resolv)
	}
	type etcContent struct{ name, target, content string }
	files := []etcContent{
		{"hosts", "/etc/hosts", hosts},
		{"hostname", "/etc/hostname", cfg.Hostname + "\n"},
		{"resolv.conf", "/etc/resolv.conf", string(resolv)},
	}
	if cfg.BuildEtc {
		// BuildKit's (executor/oci/hosts.go, spec.go): read-only, no hostname.
		files = []etcContent{
			{"hosts", "/etc/hosts", "127.0.0.1\tlocalhost " + cfg.Hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
			{"resolv.conf", "/etc/resolv.conf", string(resolv)},
		}
	}
	for _, f := range files {
		p := filepath.Join(runDir, f.name)
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		cfg.EtcFiles = append(cfg.EtcFiles, etcFile{Target: f.target, Source: p, ReadOnly: cfg.BuildEtc})
	}
	return nil
}

// prepareMounts gives every overlay mount its scratch dirs in the run dir,
// removed with it.
func prepareMounts(runDir string, mounts []Mount) ([]initMount, error) {
	out := make([]initMount, 0, len(mounts))
	for i, m := range mounts {
		im := initMount{Mount: m}
		if m.Type == "overlay" {
			im.Scratch = filepath.Join(runDir, "mount-"+strconv.Itoa(i))
			for _, d := range []string{"", "mnt", "upper", "work", "lower"} {
				if err := os.Mkdir(filepath.Join(im.Scratch, d), 0o755); err != nil {
					return nil, fmt.Errorf("sandbox: %w", err)
				}
			}
		}
		out = append(out, im)
	}
	return out, nil
}

// container is the started init process and the parent's ends of its pipes.
type container struct {
	cmd        *exec.Cmd
	configW    *os.File
	messagesR  *os.File
	tty        *ttyIO
	stdinPipe  *os.File // parent's write end when Stdin is not a file
	stdin      io.Reader
	stopStdin  chan struct{}
	stopCancel func() bool
	waited     bool
	state      *os.ProcessState
}

func start(ctx context.Context, cfg *initConfig, spec *Spec, stdout, stderr io.Writer) (*container, error) {
	configR, configW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: pipe: %w", err)
	}
	messagesR, messagesW, err := os.Pipe()
	if err != nil {
		configR.Close()
		configW.Close()
		return nil, fmt.Errorf("sandbox: pipe: %w", err)
	}
	c := &container{configW: configW, messagesR: messagesR, stopStdin: make(chan struct{})}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{initArg}
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{configR, messagesW}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if cfg.NetNone || cfg.NetSlirp {
		flags |= unix.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: flags,
		Pdeathsig:  syscall.SIGKILL,
		Setsid:     true,
	}
	var childFiles []*os.File // closed in the parent after Start
	if spec.Tty {
		// The init opens the pty itself, in the container's devpts, and
		// sends the master over this socket (setupConsole); its stdio is
		// /dev/null until then.
		t, sock, err := newTTY()
		if err != nil {
			configR.Close()
			configW.Close()
			messagesR.Close()
			messagesW.Close()
			return nil, err
		}
		c.tty = t
		t.stdin, t.stdout, t.prefill = spec.Stdin, stdout, spec.Prefill
		cmd.ExtraFiles = append(cmd.ExtraFiles, sock) // consoleFD
		childFiles = append(childFiles, sock)
	} else {
		// Pipes of this run, never the caller's files (stdio_linux.go).
		cmd.Stdout, cmd.Stderr = runOutputs(stdout, stderr)
		stdin := spec.Stdin
		if f, ok := stdin.(*os.File); ok && f == nil {
			stdin = nil
		}
		if stdin != nil {
			// Our own pipe, for a file too: exec.Cmd would make Wait block
			// on a reader that never returns, and would give the command
			// the caller's file itself.
			r, w, err := os.Pipe()
			if err != nil {
				configR.Close()
				configW.Close()
				messagesR.Close()
				messagesW.Close()
				return nil, fmt.Errorf("sandbox: pipe: %w", err)
			}
			cmd.Stdin = r
			childFiles = append(childFiles, r)
			c.stdinPipe, c.stdin = w, stdin
		}
		cmd.WaitDelay = 5 * time.Second
	}
	childFiles = append(childFiles, configR, messagesW)
	c.cmd = cmd
	if err := cmd.Start(); err != nil {
		for _, f := range childFiles {
			f.Close()
		}
		c.release()
		return nil, fmt.Errorf("sandbox: start container init %s: %w", "/proc/self/exe", err)
	}
	for _, f := range childFiles {
		f.Close()
	}
	// Killing the init (PID 1 of the namespace) kills everything in it.
	c.stopCancel = context.AfterFunc(ctx, c.kill)
	return c, nil
}

// The pipe stays open: closing it is the init's go to exec (readMessages).
func (c *container) sendConfig(cfg *initConfig) error {
	if err := json.NewEncoder(c.configW).Encode(cfg); err != nil {
		return fmt.Errorf("sandbox: send config to container init: %w", err)
	}
	return nil
}

// readMessages reads the init's messages until EOF: the pipe is close-on-exec,
// so EOF means the command was executed or the init died.
// onReady runs when the init is about to exec; then the config pipe is
// closed, which lets it.
func (c *container) readMessages(onReady func()) ([]initMsg, error) {
	release := func() {
		if c.configW != nil {
			c.configW.Close()
			c.configW = nil
		}
	}
	defer func() {
		release()
		c.messagesR.Close()
		c.messagesR = nil
	}()
	var out []initMsg
	dec := json.NewDecoder(c.messagesR)
	for {
		var m initMsg
		err := dec.Decode(&m)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if m.Ready {
			onReady()
			release()
		}
		out = append(out, m)
	}
}

// startIO starts copying stdin (and the tty) once the command runs.
func (c *container) startIO() {
	if c.tty != nil {
		c.tty.start(c.stopStdin)
	}
	if c.stdinPipe != nil {
		go func(w *os.File, r io.Reader) {
			copyUntil(w, r, c.stopStdin)
			w.Close()
		}(c.stdinPipe, c.stdin)
		c.stdinPipe = nil
	}
}

func (c *container) kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// wait reaps the init; when it returns, every process of the PID namespace
// is gone (the kernel kills them when PID 1 exits and waits for them).
func (c *container) wait() *os.ProcessState {
	if c.waited {
		return c.state
	}
	c.waited = true
	_ = c.cmd.Wait()
	c.state = c.cmd.ProcessState
	close(c.stopStdin)
	if c.tty != nil {
		c.tty.finish()
	}
	return c.state
}

func (c *container) release() {
	if c.stopCancel != nil {
		c.stopCancel()
	}
	if c.cmd != nil && c.cmd.Process != nil && !c.waited {
		c.kill()
		c.wait()
	}
	for _, f := range []*os.File{c.configW, c.messagesR, c.stdinPipe} {
		if f != nil {
			f.Close()
		}
	}
	if c.tty != nil {
		c.tty.close()
	}
}

// copyUntil copies r to w until EOF, an error, or stop. A file is polled so
// that the copy really ends at stop (and does not eat the next keystroke).
func copyUntil(w io.Writer, r io.Reader, stop <-chan struct{}) {
	f, ok := r.(*os.File)
	if !ok {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(w, r)
		}()
		select {
		case <-done:
		case <-stop:
		}
		return
	}
	buf := make([]byte, 32*1024)
	fd := int(f.Fd())
	for {
		select {
		case <-stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n <= 0 {
			continue
		}
		nr, err := unix.Read(fd, buf)
		if nr > 0 {
			if _, werr := w.Write(buf[:nr]); werr != nil {
				return
			}
		}
		if nr == 0 || (err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR)) {
			return
		}
	}
}
