package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/term"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/layers/beneath"
	"github.com/strata-build/strata/sandbox"
	"golang.org/x/sys/unix"
)

// ShellOptions say how a debug shell opens.
type ShellOptions struct {
	// Partial stacks a failed RUN's partial result (Snapshot.UpperDir) on
	// top: the state the failed command left, not the state before it.
	Partial bool
	// Shell overrides the program (--debug-shell); default: the image's
	// SHELL, else /bin/sh.
	Shell string
	// Failed is the command of a failed step: shown on entry and put in
	// the shell's history, so ↑ recalls it.
	Failed string
	// Title is shown on entry ("after step 3/8: RUN make").
	Title string
}

// historyDir is where the debug shell keeps its history inside the
// container: a bind mount of a scratch dir, never part of the change.
const HistoryDir = "/run/strata-debug"

// ShellCmd is an interactive shell in a new temporary container on top of
// a snapshot. Its Run/SetStdin/SetStdout/SetStderr make it a bubbletea
// ExecCommand, so the TUI suspends while it runs. What the shell changes
// is thrown away by Discard, or kept as a new snapshot by Keep.
type ShellCmd struct {
	b    *Backend
	snap *event.Snapshot
	opt  ShellOptions

	stdin          io.Reader
	stdout, stderr io.Writer

	tmp, upper string
	lowers     []string
	// ExitCode is the shell's exit status after Run.
	ExitCode int
}

// Shell prepares a debug shell on snap (Run starts it).
func (b *Backend) Shell(snap *event.Snapshot, opt ShellOptions) (*ShellCmd, error) {
	if b == nil || b.Store == nil || snap == nil || snap.Config == nil {
		return nil, errors.New("no snapshot to open a shell in")
	}
	if b.Runner == nil {
		if err := sandbox.Supported(); err != nil {
			return nil, fmt.Errorf("shell: %w", err)
		}
	}
	if opt.Partial && snap.UpperDir == "" {
		return nil, errors.New("this step left no partial result to open")
	}
	return &ShellCmd{b: b, snap: snap, opt: opt, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, nil
}

func (c *ShellCmd) SetStdin(r io.Reader)  { c.stdin = r }
func (c *ShellCmd) SetStdout(w io.Writer) { c.stdout = w }
func (c *ShellCmd) SetStderr(w io.Writer) { c.stderr = w }

// argv is the shell to start: --debug-shell, the image's SHELL, /bin/sh.
func (c *ShellCmd) argv(v *layers.View) ([]string, error) {
	if c.opt.Shell != "" {
		return []string{c.opt.Shell}, nil
	}
	if sh := c.snap.Config.Config.Shell; len(sh) > 0 {
		// SHELL ["/bin/bash", "-c"]: the program without its -c.
		args := slices.Clone(sh)
		if n := len(args); n > 1 && args[n-1] == "-c" {
			args = args[:n-1]
		}
		return args, nil
	}
	if _, err := v.Stat("/bin/sh"); err != nil {
		return nil, errors.New("the image has no /bin/sh: give a static shell with --debug-shell PATH (e.g. a busybox-static binary inside the image)")
	}
	return []string{"/bin/sh"}, nil
}

// Run starts the shell and waits for it. The container's changes stay in
// its upper dir until Keep or Discard.
func (c *ShellCmd) Run() error {
	if c.tmp != "" {
		return errors.New("shell already ran")
	}
	if err := c.fetch(); err != nil {
		return err
	}
	v := c.b.View(c.snap)
	argv, err := c.argv(v)
	if err != nil {
		return err
	}
	tmp, err := c.b.Store.TempDir("shell-")
	if err != nil {
		return err
	}
	c.tmp = tmp
	upper, work, hist := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work"), filepath.Join(tmp, "history")
	for _, d := range []string{upper, work, hist} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	os.Chmod(hist, 0o777)
	c.upper, c.lowers = upper, v.Lowers
	// The typed commands are recorded by an EXIT trap that writes the
	// shell's in-memory history (Debian's busybox saves no history file):
	// ash and dash read it from $ENV; bash, which reads no $ENV when
	// interactive, sets it from PROMPT_COMMAND. bash's HISTFILE is a
	// fallback. Each command's exit status is logged at the next prompt
	// with the history entry it belongs to: by PS1 in ash (which expands
	// $(...) in it each time), by PROMPT_COMMAND in bash.
	rc := "trap 'history > " + HistoryDir + "/typed 2>/dev/null' EXIT\n" +
		"PS1='$(s=$?; h=$(history 2>/dev/null); printf \"%s\\t%s\\n\" \"$s\" \"${h##*\n}\" >> " + HistoryDir + "/status 2>/dev/null)(strata) \\w \\$ '\n"
	if err := os.WriteFile(filepath.Join(hist, "rc"), []byte(rc), 0o644); err != nil {
		return err
	}
	promptCommand := `s=$?; printf "%s\t%s\n" "$s" "$(history 1)" >> ` + HistoryDir + `/status 2>/dev/null; trap "history > ` + HistoryDir + `/typed 2>/dev/null" EXIT`
	cfg := c.snap.Config.Config
	env := slices.Clone(cfg.Env)
	env = append(env, "HISTFILE="+HistoryDir+"/history", "ENV="+HistoryDir+"/rc", "PS1=(strata) \\w \\$ ", "PROMPT_COMMAND="+promptCommand)
	wd := cfg.WorkingDir
	if wd == "" {
		wd = "/"
	}
	fmt.Fprintf(c.stdout, "\r\nstrata: a shell in a temporary container")
	if c.opt.Title != "" {
		fmt.Fprintf(c.stdout, " %s", c.opt.Title)
	}
	fmt.Fprintf(c.stdout, "\r\n")
	if c.opt.Failed != "" {
		fmt.Fprintf(c.stdout, "strata: the step that failed ran: %s\r\n", c.opt.Failed)
		if c.stdinIsTerminal() && !c.opt.Partial {
			fmt.Fprintf(c.stdout, "strata: it is typed at the prompt: Enter runs it again, or edit it first.\r\n")
		}
	}
	fmt.Fprintf(c.stdout, "strata: changes are thrown away unless you keep them; type exit to go back.\r\n\r\n")
	spec := &sandbox.Spec{Lower: layers.OverlayLowers(c.lowers), Upper: upper, Work: work, Args: argv, Env: env, Dir: wd, User: cfg.User,
		Network: c.b.buildNetwork(), TmpDir: tmp, Stdin: c.stdin,
		Mounts: []sandbox.Mount{{Type: "bind", Source: hist, Target: HistoryDir}}}
	if c.stdinIsTerminal() {
		spec.Tty = true
		if !c.opt.Partial {
			spec.Prefill = c.opt.Failed
		}
	}
	// A hangup (the terminal closed) or a kill of strata ends the shell:
	// its own pty shields it from both, and strata would wait for it
	// forever holding the store. The signal reaches strata's other
	// handlers too, so it then exits and cleans up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	code, err := c.b.runner().Run(ctx, spec, c.stdout, c.stderr)
	c.ExitCode = code
	var ee *sandbox.ExecError
	if errors.As(err, &ee) {
		return fmt.Errorf("shell %s: %w (give one with --debug-shell PATH)", argv[0], err)
	}
	return err
}

// Commands are the command lines typed in the shell (its history minus
// what was put there before it started). A command left out of the RUN
// line says why after a "    # left out of the RUN line: " comment.
func (c *ShellCmd) Commands() []string {
	cmds := c.Typed()
	_, why := BuildRunLine(cmds)
	return annotate(cmds, why)
}

// Typed are the command lines typed in the shell with their exit status
// where the prompt hook logged it.
func (c *ShellCmd) Typed() []Typed {
	if c.tmp == "" {
		return nil
	}
	var out []Typed
	dir := filepath.Join(c.tmp, "history")
	var status map[int]statusEntry
	if b, err := readHistory(dir, "status"); err == nil {
		status = parseStatusLog(b)
	}
	if b, err := readHistory(dir, "typed"); err == nil && len(b) > 0 {
		// "history": "   N command" (ash), "    N  command" (bash).
		for _, l := range strings.Split(string(b), "\n") {
			n, cmd, ok := historyEntry(l)
			if !ok {
				cmd = l
			}
			t := Typed{Line: strings.TrimSpace(cmd)}
			if e, found := status[n]; ok && found && e.line == t.Line {
				t.Status, t.Known = e.status, true
			}
			if t.Line != "" {
				out = append(out, t)
			}
		}
		return out
	}
	if b, err := readHistory(dir, "history"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") { // bash timestamps
				out = append(out, Typed{Line: l})
			}
		}
	}
	return out
}

// maxHistory bounds what is read of a shell's history file.
const maxHistory = 1 << 20

// readHistory reads the file name that the shell left in its history dir
// (bind-mounted into the container, which may have put anything there): a
// regular file of that dir only, never a symlink (to a host file), a fifo
// (that would block strata) or more than maxHistory bytes.
func readHistory(dir, name string) ([]byte, error) {
	root, err := beneath.Open(dir, beneath.NoSymlinks)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("shell history %s: not a regular file", name)
	}
	return io.ReadAll(io.LimitReader(f, maxHistory))
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func (c *ShellCmd) stdinIsTerminal() bool {
	f, ok := c.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// RunLine is the RUN instruction that would redo what was typed.
// Failed commands and commands that only read are left out (BuildRunLine).
func (c *ShellCmd) RunLine() string {
	line, _ := BuildRunLine(c.Typed())
	return line
}

// Changes lists what the shell changed (read from its upper dir).
func (c *ShellCmd) Changes() ([]layers.Change, error) {
	if c.upper == "" {
		return nil, errors.New("the shell has not run")
	}
	return layers.Diff(c.upper, c.lowers, io.Discard, layers.DiffOptions{})
}

// Keep turns the shell's change into a snapshot on top of the one it
// opened on, as if the typed commands had been a RUN step, and returns it
// with the RUN line that would reproduce it.
func (c *ShellCmd) Keep() (*event.Snapshot, string, error) {
	if c.upper == "" {
		return nil, "", errors.New("the shell has not run")
	}
	defer c.Discard()
	pl, err := layers.DiffLayer(c.upper, c.lowers, c.tmp, layers.DiffOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("keep: %w", err)
	}
	line := c.RunLine()
	created := line
	if created == "" {
		created = "RUN # debug shell"
	}
	cfg := c.snap.Config.DeepCopy()
	if c.opt.Partial && c.snap.UpperDir != "" {
		// The failed step's partial change comes first. Its tar goes in a
		// folder of its own: c.tmp/layer.tar is the shell's.
		pdir := filepath.Join(c.tmp, "partial")
		if err := os.Mkdir(pdir, 0o755); err != nil {
			return nil, "", fmt.Errorf("keep: %w", err)
		}
		ppl, err := layers.DiffLayer(c.snap.UpperDir, c.lowers[1:], pdir, layers.DiffOptions{})
		if err == nil && ppl.Files > 0 {
			m, err := c.b.Store.CommitLayer(ppl)
			if err != nil {
				return nil, "", err
			}
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, m.DiffID)
			cfg.History = append(cfg.History, v1.History{Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: "partial result of the failed step", Comment: "strata debug shell"})
		}
	}
	stats := pl.Stats
	snap := &event.Snapshot{Parent: c.snap, Step: c.snap.Step, Stats: &stats, Files: pl.Files}
	if pl.Files > 0 {
		m, err := c.b.Store.CommitLayer(pl)
		if err != nil {
			return nil, "", err
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, m.DiffID)
		snap.DiffID = m.DiffID
	} else {
		os.Remove(pl.Tar)
		os.Remove(pl.ChangesFile)
	}
	cfg.History = append(cfg.History, v1.History{Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: created,
		Comment: "strata debug shell", EmptyLayer: pl.Files == 0})
	snap.Config = cfg
	snap.Layers = slices.Clone(cfg.RootFS.DiffIDs)
	return snap, line, nil
}

// Discard throws the shell's container away.
func (c *ShellCmd) Discard() {
	if c.tmp != "" {
		layers.RemoveAll(c.tmp)
		c.upper = ""
	}
}

// RunImage runs a built image's primary command (ENTRYPOINT + CMD) in a
// temporary container, as strata run does, passing each output line to
// out. It returns the command's exit code.
func (b *Backend) RunImage(ctx context.Context, cfg *v1.ConfigFile, out func(stream, line string)) (int, error) {
	if b == nil || b.Store == nil || cfg == nil {
		return 0, errors.New("no image to run")
	}
	argv := append(slices.Clone(cfg.Config.Entrypoint), cfg.Config.Cmd...)
	if len(argv) == 0 {
		return 0, errors.New("the image has no ENTRYPOINT or CMD to run")
	}
	if err := b.ready(&event.Snapshot{Layers: cfg.RootFS.DiffIDs}); err != nil { // layers still in a shared cache
		return 0, err
	}
	spec, remove, err := ContainerSpec(b.Store, cfg, argv)
	if err != nil {
		return 0, err
	}
	defer remove()
	// One writer for both streams keeps the order written (sandbox.Run).
	so := &funcWriter{fn: func(l string) { out("stdout", l) }}
	code, err := b.runner().Run(ctx, spec, so, so)
	so.flush()
	return code, err
}

// funcWriter calls fn for each complete line written.
type funcWriter struct {
	fn  func(string)
	buf []byte
}

func (w *funcWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *funcWriter) flush() {
	if len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = nil
	}
}

// ContainerSpec prepares a temporary container on an image (strata run,
// the TUI's x): scratch upper and work dirs in the store, the image's
// layers as lower dirs, its env, user and working dir, a private network
// (sandbox.NetworkDefault, as docker run's).
// remove deletes the scratch once the container has run.
func ContainerSpec(s *layers.Store, cfg *v1.ConfigFile, argv []string) (spec *sandbox.Spec, remove func(), err error) {
	tmp, err := s.TempDir("container-")
	if err != nil {
		return nil, nil, err
	}
	upper, work := filepath.Join(tmp, "upper"), filepath.Join(tmp, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			layers.RemoveAll(tmp)
			return nil, nil, err
		}
	}
	spec = &sandbox.Spec{Lower: layers.OverlayLowers(s.View(cfg.RootFS.DiffIDs).Lowers), Upper: upper, Work: work, Args: argv,
		Env: slices.Clone(cfg.Config.Env), Dir: cfg.Config.WorkingDir, User: cfg.Config.User, Network: sandbox.NetworkDefault, TmpDir: tmp}
	return spec, func() { layers.RemoveAll(tmp) }, nil
}
