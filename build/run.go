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
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

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
}

// RunFailure is a RUN whose command exited non-zero.
type RunFailure struct {
	Command  string
	ExitCode int
	Last     []string
	Message  string // e.g. exec: "foo": executable file not found in $PATH
}

func (f *RunFailure) Error() string {
	msg := fmt.Sprintf("RUN %s: exit code %d", f.Command, f.ExitCode)
	if f.Message != "" {
		msg += " (" + f.Message + ")"
	}
	return msg
}

type sandboxRunner struct{}

func (sandboxRunner) Run(ctx context.Context, r *RunRequest) (int, error) {
	return sandbox.Run(ctx, &sandbox.Spec{
		Lower: r.Lower, Upper: r.Upper, Work: r.Work, Args: r.Args, Env: r.Env, Dir: r.Dir, User: r.User,
		Network: r.Network, Mounts: r.Mounts, Memory: r.Memory, PidsLimit: r.PidsLimit, ID: r.Container, TmpDir: r.TmpDir,
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
	w.e.emit(StepLog{eventBase: stamp(), Step: w.step, Stream: w.stream, Line: l})
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
// effect (an ENV of the same name wins) and proxy build args.
func (e *Executor) runEnv(st *stageState) []string {
	env := append([]string{}, st.cfg.Config.Env...)
	has := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		has[k] = true
	}
	for _, a := range st.args {
		if a.Value != nil && !has[a.Key] {
			env = append(env, a.Key+"="+*a.Value)
			has[a.Key] = true
		}
	}
	for _, k := range proxyArgs {
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

func (e *Executor) run(ctx context.Context, st *stageState, step int, t0 time.Time, c *instructions.RunCommand) error {
	if e.Runner == nil {
		reason := "the sandbox is not available"
		if err := sandbox.Supported(); err != nil {
			reason = err.Error()
		}
		return fmt.Errorf("RUN cannot execute here: %s", reason)
	}
	args := runArgs(st.cfg.Config.Shell, c)
	network := e.Opt.Network
	if n := instructions.GetNetwork(c); n != "" {
		network = n
	}
	if network == "default" || network == "" {
		network = "host"
	}
	if network != "host" && network != "none" {
		return fmt.Errorf("RUN --network=%s: want default, host or none", network)
	}
	view := st.view(e.Store)
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
	mounts, err := e.runMounts(ctx, st, c, tmp)
	if err != nil {
		return err
	}
	logf, err := os.Create(e.LogPath(step))
	if err != nil {
		return err
	}
	defer logf.Close()
	id := newContainerID()
	e.emit(StepStarted{eventBase: stamp(), Step: step, Container: id})
	tail := &tailBuf{max: 20}
	stdout := &lineWriter{e: e, step: step, stream: "stdout", log: logf, tail: tail}
	stderr := &lineWriter{e: e, step: step, stream: "stderr", log: logf, tail: tail}
	wd := st.cfg.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	code, err := e.Runner.Run(ctx, &RunRequest{
		Lower: view.Lowers, Upper: upper, Work: work, Args: args, Env: e.runEnv(st), Dir: wd,
		User: st.cfg.Config.User, Network: network, Mounts: mounts, Memory: e.Opt.Memory, PidsLimit: e.Opt.PidsLimit,
		Stdout: stdout, Stderr: stderr, Container: id, TmpDir: tmp,
	})
	stdout.flush()
	stderr.flush()
	cmdText := strings.Join(c.CmdLine, " ")
	if err != nil || code != 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ee *sandbox.ExecError
		msg := ""
		if errors.As(err, &ee) {
			msg = ee.Error()
			code = ee.Code
		} else if err != nil {
			return fmt.Errorf("RUN %s: %w", cmdText, err)
		}
		keep = true // the failed snapshot stays until the store closes
		rf := &RunFailure{Command: cmdText, ExitCode: code, Last: tail.lines, Message: msg}
		snap := &Snapshot{Layers: slices.Clone(st.cfg.RootFS.DiffIDs), Config: st.cfg.DeepCopy(), Parent: st.snap, Step: step, UpperDir: upper}
		e.emit(StepFailed{eventBase: stamp(), Step: step, Error: rf.Error(), ExitCode: code, Command: cmdText, Last: tail.lines, Duration: time.Since(t0), Snapshot: snap})
		return rf
	}
	pl, err := e.diffToLayer(upper, view.Lowers, tmp, layers.DiffOptions{})
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	layers.RemoveAll(work)
	pl.FS = upper
	return e.layerDone(st, step, t0, runHistory(args, st), pl)
}

// runMounts turns RUN --mount flags into sandbox mounts.
func (e *Executor) runMounts(ctx context.Context, st *stageState, c *instructions.RunCommand, tmp string) ([]sandbox.Mount, error) {
	var out []sandbox.Mount
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = path.Join("/", st.cfg.Config.WorkingDir, target)
		}
		switch m.Type {
		case instructions.MountTypeBind:
			if m.From != "" {
				return nil, fmt.Errorf("--mount=type=bind,from=%s: binding another stage is not supported yet; COPY --from=%s instead", m.From, m.From)
			}
			cs, err := newContextSource(e.Opt.ContextDir, e.Plan.Ignore, nil)
			if err != nil {
				return nil, err
			}
			src := m.Source
			if src == "" {
				src = "/"
			}
			p, err := cleanSource(src)
			if err != nil {
				return nil, err
			}
			_, host, err := cs.stat(p, true)
			if err != nil {
				return nil, fmt.Errorf("--mount=type=bind,source=%s: %w", m.Source, err)
			}
			out = append(out, sandbox.Mount{Type: "bind", Source: host, Target: target, ReadOnly: m.ReadOnly})
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = target
			}
			dir := filepath.Join(e.Store.Root(), "cache", "mounts", safeName(id))
			if _, err := os.Stat(dir); err != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, err
				}
				mode := os.FileMode(0o755)
				if m.Mode != nil {
					mode = os.FileMode(*m.Mode)
				}
				uid, gid := 0, 0
				if m.UID != nil {
					uid = int(*m.UID)
				}
				if m.GID != nil {
					gid = int(*m.GID)
				}
				os.Chown(dir, uid, gid)
				os.Chmod(dir, mode)
			}
			out = append(out, sandbox.Mount{Type: "bind", Source: dir, Target: target, ReadOnly: m.ReadOnly})
		case instructions.MountTypeTmpfs:
			var opts []string
			if m.SizeLimit > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
			}
			out = append(out, sandbox.Mount{Type: "tmpfs", Target: target, Options: opts})
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = path.Base(m.Target)
			}
			src, ok := e.Opt.Secrets[id]
			if !ok {
				if m.Required {
					return nil, fmt.Errorf("--mount=type=secret,id=%s: no such secret: pass it with --secret id=%s,src=FILE", id, id)
				}
				continue
			}
			if target == "" {
				target = "/run/secrets/" + id
			}
			abs, err := filepath.Abs(src)
			if err != nil {
				return nil, err
			}
			if _, err := os.Stat(abs); err != nil {
				return nil, fmt.Errorf("--secret id=%s,src=%s: %w", id, src, err)
			}
			out = append(out, sandbox.Mount{Type: "bind", Source: abs, Target: target, ReadOnly: true})
		case instructions.MountTypeSSH:
			return nil, errors.New("--mount=type=ssh is not supported by strata")
		}
	}
	return out, nil
}

func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
