package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
)

// RunRequest is what the executor asks the sandbox to run for a RUN step.
type RunRequest struct {
	Lower     []string // layer dirs, top first
	Upper     string
	Work      string
	Args      []string
	Env       []string
	Dir       string
	User      string
	Network   string
	Mounts    []sandbox.Mount
	Memory    int64
	PidsLimit int64
	Stdout    io.Writer
	Stderr    io.Writer
	Container string
	TmpDir    string
	// Trace, when not nil, is filled with the processes the command
	// started (sandbox.Trace).
	Trace *sandbox.Trace
}

// RunFailure is a RUN whose command exited non-zero.
type RunFailure struct {
	Command  string
	ExitCode int
	Last     []string
	Message  string // e.g. exec: "foo": executable file not found in $PATH
	// Killed says why the sandbox killed the command, e.g. killed: out of
	// memory (limit 64 MiB, --memory).
	Killed string
}

func (f *RunFailure) Error() string {
	if f.Killed != "" {
		return fmt.Sprintf("RUN %s: %s, exit code %d", f.Command, f.Killed, f.ExitCode)
	}
	msg := fmt.Sprintf("RUN %s: exit code %d", f.Command, f.ExitCode)
	if f.Message != "" {
		msg += " (" + f.Message + ")"
	}
	return msg
}

type sandboxRunner struct{}

// sandboxHostname is the hostname of a RUN step's container, BuildKit's
// default; like BuildKit's, the container gets read-only /etc/hosts (naming
// it) and /etc/resolv.conf and no /etc/hostname bind (sandbox.Spec.BuildEtc).
const sandboxHostname = "buildkitsandbox"

func (sandboxRunner) Run(ctx context.Context, r *RunRequest) (int, error) {
	return sandbox.Run(ctx, &sandbox.Spec{
		Lower: layers.OverlayLowers(r.Lower), Upper: r.Upper, Work: r.Work, Args: r.Args, Env: r.Env, Dir: r.Dir, User: r.User,
		Network: r.Network, Mounts: r.Mounts, Memory: r.Memory, PidsLimit: r.PidsLimit, ID: r.Container, TmpDir: r.TmpDir,
		Hostname: sandboxHostname, BuildEtc: true, Trace: r.Trace,
	}, r.Stdout, r.Stderr)
}

// SandboxRunner returns the Runner that uses strata's sandbox, or nil when
// the sandbox cannot run here (then RUN steps fail saying why).
func SandboxRunner() Runner {
	if sandbox.Supported() != nil {
		return nil
	}
	return sandboxRunner{}
}

func newContainerID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lineWriter splits output into lines: each becomes a StepLog event and a
// line of the step's log file; the last lines are kept for errors.
type lineWriter struct {
	mu     sync.Mutex
	e      *Executor
	step   int
	stream string
	log    io.Writer
	buf    []byte
	tail   *tailBuf
}

type tailBuf struct {
	mu    sync.Mutex
	lines []string
	max   int
}

func (t *tailBuf) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(string(bytes.TrimRight(w.buf[:i], "\r")))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a very long line without newline: flush it
		w.line(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

func (w *lineWriter) line(l string) {
	fmt.Fprintln(w.log, l)
	w.tail.add(l)
	w.e.emit(event.StepLog{Base: event.Now(), Step: w.step, Stream: w.stream, Line: l})
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
}

// LogPath is where a step's whole log is kept.
func (e *Executor) LogPath(step int) string {
	return filepath.Join(e.LogDir, "step-"+strconv.Itoa(step)+".log")
}

// runArgs is the argv of a RUN: exec form as is; shell form through the
// image's SHELL. A heredoc body goes to the shell with the command, so
// `RUN <<EOF` scripts and `RUN cat <<EOF` both behave as in a shell.
func runArgs(cfg []string, c *instructions.RunCommand) []string {
	if !c.PrependShell {
		return c.CmdLine
	}
	sh := []string{"/bin/sh", "-c"}
	if len(cfg) > 0 {
		sh = cfg
	}
	script := strings.Join(c.CmdLine, " ")
	if len(c.Files) > 0 {
		if h, err := parser.ParseHeredoc(strings.TrimSpace(script)); err == nil && h != nil && len(c.Files) == 1 && strings.TrimSpace(script) == strings.TrimSpace(c.CmdLine[0]) && strings.HasPrefix(strings.TrimSpace(script), "<<") {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			return append(append([]string{}, sh...), data)
		}
		var b strings.Builder
		b.WriteString(script)
		for _, f := range c.Files {
			b.WriteString("\n")
			data := f.Data
			if f.Chomp {
				data = parser.ChompHeredocContent(data)
			}
			b.WriteString(data)
			if !strings.HasSuffix(data, "\n") {
				b.WriteString("\n")
			}
			b.WriteString(f.Name)
		}
		script = b.String()
	}
	return append(append([]string{}, sh...), script)
}

// runEnv is the environment of a RUN: the image's ENV plus the ARGs in
// effect (an ENV of the same name declared after the ARG wins, an ARG
// declared after the ENV wins) and proxy build args.
func (e *Executor) runEnv(st *stageState) []string {
	env := append([]string{}, st.cfg.Config.Env...)
	has := map[string]bool{}
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		has[k] = true
		if v, ok := st.argValue(k); ok && st.argOver[k] {
			env[i] = k + "=" + v
		}
	}
	for _, a := range st.args {
		if a.Value != nil && !has[a.Key] {
			env = append(env, a.Key+"="+*a.Value)
			has[a.Key] = true
		}
	}
	for _, k := range frontend.ProxyArgs {
		if v, ok := e.Plan.BuildArgs[k]; ok && !has[k] {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// runHistory is BuildKit's created_by for RUN: "RUN |N K=V ... argv".
func runHistory(args []string, st *stageState) string {
	var kv []string
	for _, a := range st.args {
		if a.Value == nil {
			continue
		}
		kv = append(kv, a.Key+"="+*a.Value)
	}
	parts := []string{}
	if len(kv) > 0 {
		parts = append(parts, "|"+strconv.Itoa(len(kv)))
		parts = append(parts, kv...)
	}
	parts = append(parts, args...)
	return "RUN " + strings.Join(parts, " ") + " # buildkit"
}

// buildNetwork is the build's --network (a sandbox.Network* mode): RUN
// steps' and the debug shell's. e may be nil.
func (e *Executor) buildNetwork() string {
	if e == nil || e.Opt.Network == "" {
		return sandbox.NetworkDefault
	}
	return e.Opt.Network
}

// runNetwork is a RUN step's network (a sandbox.Network* mode), decided as
// BuildKit does: no --network flag or --network=default is the build's
// --network (default: a private network namespace with outbound access);
// --network=none always may; --network=host needs the network.host
// entitlement, which --allow network.host grants, and --network host (as
// docker build grants it then). A Dockerfile someone else wrote does not
// get the host's network by asking for it.
func (e *Executor) runNetwork(c *instructions.RunCommand) (string, error) {
	buildNet := e.buildNetwork()
	switch n := instructions.GetNetwork(c); n {
	case "", "default":
		return buildNet, nil
	case sandbox.NetworkNone:
		return n, nil
	case sandbox.NetworkHost:
		if buildNet == sandbox.NetworkHost || e.Opt.AllowNetworkHost {
			return n, nil
		}
		return "", errors.New("RUN --network=host: network.host is not allowed: this Dockerfile asks for the host's network; build with --allow network.host (or --network host) to let it, as with docker build")
	default:
		return "", fmt.Errorf("RUN --network=%s: want default, host or none", n)
	}
}

func (e *Executor) run(ctx context.Context, r *stepRun, c *instructions.RunCommand) error {
	if e.Runner == nil {
		reason := "the sandbox is not available"
		if err := sandbox.Supported(); err != nil {
			reason = err.Error()
		}
		return fmt.Errorf("RUN cannot execute here: %s", reason)
	}
	r.then("prepare")
	args := runArgs(r.st.cfg.Config.Shell, c)
	network, err := e.runNetwork(c)
	if err != nil {
		return err
	}
	view := r.st.view(e.Store)
	tmp, err := e.Store.TempDir("run-")
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			layers.RemoveAll(tmp)
		}
	}()
	upper, work := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	mounts, release, err := e.runMounts(ctx, r.st, r.step, c)
	if err != nil {
		return err
	}
	defer release()
	logf, err := os.Create(e.LogPath(r.step))
	if err != nil {
		return err
	}
	defer logf.Close()
	id := newContainerID()
	e.emit(event.StepStarted{Base: event.Now(), Step: r.step, Container: id})
	tail := &tailBuf{max: 20}
	// One writer for stdout and stderr: the sandbox gives the command one
	// pipe as both (as 2>&1), so the lines come in the order written, one
	// stream as docker build shows it.
	out := &lineWriter{e: e, step: r.step, stream: "stdout", log: logf, tail: tail}
	wd := r.st.cfg.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	var trace *sandbox.Trace
	if os.Getenv(NoProcessTraceEnv) == "" {
		trace = &sandbox.Trace{}
	}
	r.closeOpen()
	runStart := time.Now()
	code, err := e.Runner.Run(ctx, &RunRequest{
		Lower: view.Lowers, Upper: upper, Work: work, Args: args, Env: e.runEnv(r.st), Dir: wd,
		User: r.st.cfg.Config.User, Network: network, Mounts: mounts, Memory: e.Opt.Memory, PidsLimit: e.Opt.PidsLimit,
		Stdout: out, Stderr: out, Container: id, TmpDir: tmp, Trace: trace,
	})
	r.ranContainer(runStart, time.Now(), trace)
	release() // the cache mounts are free once the command has ended
	out.flush()
	cmdText := strings.Join(c.CmdLine, " ")
	if err != nil || code != 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ee *sandbox.ExecError
		var oe *sandbox.OOMError
		msg, killed := "", ""
		if errors.As(err, &ee) {
			msg = ee.Error()
			code = ee.Code
		} else if errors.As(err, &oe) {
			killed = oe.Message("--memory")
			code = oe.Code
		} else if err != nil {
			return fmt.Errorf("RUN %s: %w", cmdText, err)
		}
		if msg == "" && killed == "" {
			msg = rootless.RunHint(tail.lines) // chown to an id a rootless strata has not
		}
		keep = true // the failed snapshot stays until the store closes
		rf := &RunFailure{Command: cmdText, ExitCode: code, Last: tail.lines, Message: msg, Killed: killed}
		snap := &event.Snapshot{Layers: slices.Clone(r.st.cfg.RootFS.DiffIDs), Config: r.st.cfg.DeepCopy(), Parent: r.st.snap, Step: r.step, UpperDir: upper}
		// what the failed command left, for the Files tab (best effort)
		snap.Changes, _ = layers.Diff(upper, view.Lowers, io.Discard, layers.DiffOptions{})
		phases, procs := r.timing()
		e.emit(event.StepFailed{Base: event.Now(), Step: r.step, Error: rf.Error(), ExitCode: code, Command: cmdText, Last: tail.lines, Duration: time.Since(r.t0), Snapshot: snap,
			Phases: phases, Processes: procs})
		return rf
	}
	r.then("snapshot")
	pl, err := e.diffToLayer(upper, view.Lowers, tmp, layers.DiffOptions{})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	layers.RemoveAll(work)
	pl.FS = upper
	return r.layerDone(runHistory(args, r.st), pl)
}

// LogPathOrNone is LogPath once the build keeps logs, "" before: the
// log path function a snapshot.Backend is attached with before Build.
func (e *Executor) LogPathOrNone(step int) string {
	if e.LogDir == "" {
		return ""
	}
	return e.LogPath(step)
}
