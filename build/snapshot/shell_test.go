package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
)

// fakeRunner is the Runner seam's fake: it keeps each spec it is given
// and plays the container with do. No root, no sandbox.
type fakeRunner struct {
	specs []sandbox.Spec
	do    func(spec *sandbox.Spec, stdout, stderr io.Writer) (int, error)
}

func (f *fakeRunner) Run(ctx context.Context, spec *sandbox.Spec, stdout, stderr io.Writer) (int, error) {
	f.specs = append(f.specs, *spec)
	return f.do(spec, stdout, stderr)
}

// runnerStore is a store holding one layer (bin/sh, app/) owned by the
// user running the test, and an image config on it.
func runnerStore(t *testing.T) (*layers.Store, *v1.ConfigFile) {
	t.Helper()
	s := testutil.TempStore(t, layers.Open)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	uid, gid := os.Getuid(), os.Getgid()
	for _, h := range []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o755, Size: 2},
		{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755},
	} {
		h.Uid, h.Gid, h.Format = uid, gid, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("sh"))
		}
	}
	tw.Close()
	meta, err := s.ImportLayer(&buf, v1.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{meta.DiffID}},
		Config: v1.Config{Env: []string{"PATH=/bin", "A=1"}, User: "1000:1000", WorkingDir: "/app", Entrypoint: []string{"/bin/echo"}, Cmd: []string{"hi"}}}
	return s, cfg
}

// TestRunImageThroughRunner: x (RunImage) gives the Runner the image's
// command (ENTRYPOINT + CMD), layers, env, user, working dir and a private
// network, in scratch dirs of the store that are gone once it returns;
// both streams come back as lines in the order written, and the exit code
// as the runner said.
func TestRunImageThroughRunner(t *testing.T) {
	s, cfg := runnerStore(t)
	f := &fakeRunner{do: func(spec *sandbox.Spec, stdout, stderr io.Writer) (int, error) {
		for _, d := range []string{spec.Upper, spec.Work} {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() || filepath.Dir(d) != spec.TmpDir {
				t.Errorf("scratch dir %s (tmp %s): %v", d, spec.TmpDir, err)
			}
		}
		io.WriteString(stdout, "one\n")
		io.WriteString(stderr, "two\r\n")
		io.WriteString(stdout, "three")
		return 3, nil
	}}
	b := NewBackend(s, nil)
	b.Runner = f
	var got []string
	code, err := b.RunImage(context.Background(), cfg, func(stream, line string) { got = append(got, stream+":"+line) })
	if err != nil || code != 3 {
		t.Fatalf("RunImage = %d, %v; want the runner's 3, nil", code, err)
	}
	if want := []string{"stdout:one", "stdout:two", "stdout:three"}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if len(f.specs) != 1 {
		t.Fatalf("runner called %d times", len(f.specs))
	}
	sp := f.specs[0]
	if !slices.Equal(sp.Args, []string{"/bin/echo", "hi"}) {
		t.Errorf("argv %q, want ENTRYPOINT + CMD", sp.Args)
	}
	if want := layers.OverlayLowers(s.View(cfg.RootFS.DiffIDs).Lowers); len(want) != 1 || !slices.Equal(sp.Lower, want) {
		t.Errorf("lower dirs %q, want the image's layer %q", sp.Lower, want)
	}
	if !slices.Equal(sp.Env, cfg.Config.Env) || sp.User != "1000:1000" || sp.Dir != "/app" || sp.Network != sandbox.NetworkDefault {
		t.Errorf("env %q user %q dir %q network %q", sp.Env, sp.User, sp.Dir, sp.Network)
	}
	if _, err := os.Stat(sp.TmpDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the container's scratch %s is left: %v", sp.TmpDir, err)
	}

	noCmd := cfg.DeepCopy()
	noCmd.Config.Entrypoint, noCmd.Config.Cmd = nil, nil
	if _, err := b.RunImage(context.Background(), noCmd, func(string, string) {}); err == nil || !strings.Contains(err.Error(), "no ENTRYPOINT or CMD") {
		t.Errorf("an image without a command: %v", err)
	}
	if len(f.specs) != 1 {
		t.Errorf("the runner ran an image without a command")
	}
}

// TestShellThroughRunner: a debug shell gives the Runner the image's SHELL
// (without -c), its layers, env (plus the history hooks), user, working
// dir, the build's --network, the shell's stdin, no tty for a stdin that
// is no terminal, and the history dir bound at HistoryDir; what the
// "shell" leaves there and in its upper dir becomes the typed commands,
// the RUN line, the change and, kept, a snapshot. The default shell is
// /bin/sh, refused when the image has none; an exec failure names
// --debug-shell.
func TestShellThroughRunner(t *testing.T) {
	s, cfg := runnerStore(t)
	cfg.Config.Shell = []string{"/bin/bash", "-c"}
	f := &fakeRunner{}
	b := NewBackend(s, nil)
	b.Runner = f
	b.Attach(nil, "none", nil)
	snap := &event.Snapshot{Config: cfg, Layers: cfg.RootFS.DiffIDs, Step: 2}
	c, err := b.Shell(snap, ShellOptions{Failed: "make", Title: "after step 2/3: RUN make"})
	if err != nil {
		t.Fatal(err)
	}
	stdin := strings.NewReader("")
	var out bytes.Buffer
	c.SetStdin(stdin)
	c.SetStdout(&out)
	f.do = func(spec *sandbox.Spec, stdout, stderr io.Writer) (int, error) {
		var hist string
		for _, m := range spec.Mounts {
			if m.Target == HistoryDir && m.Type == "bind" {
				hist = m.Source
			}
		}
		if hist == "" {
			t.Fatalf("no history dir bound at %s: %+v", HistoryDir, spec.Mounts)
		}
		os.WriteFile(filepath.Join(hist, "typed"), []byte("    1  echo hi > /app/f\n    2  make\n"), 0o644)
		os.WriteFile(filepath.Join(hist, "status"), []byte("0\t    1  echo hi > /app/f\n2\t    2  make\n"), 0o644)
		if err := os.MkdirAll(filepath.Join(spec.Upper, "app"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(spec.Upper, "app", "f"), []byte("hi\n"), 0o644)
		return 2, nil
	}
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if c.ExitCode != 2 {
		t.Errorf("exit code %d, want the runner's 2", c.ExitCode)
	}
	sp := f.specs[0]
	if !slices.Equal(sp.Args, []string{"/bin/bash"}) {
		t.Errorf("argv %q, want the image's SHELL without -c", sp.Args)
	}
	if want := layers.OverlayLowers(s.View(cfg.RootFS.DiffIDs).Lowers); !slices.Equal(sp.Lower, want) {
		t.Errorf("lower dirs %q, want %q", sp.Lower, want)
	}
	if !slices.Equal(sp.Env[:2], cfg.Config.Env) || !slices.Contains(sp.Env, "HISTFILE="+HistoryDir+"/history") || !slices.Contains(sp.Env, "ENV="+HistoryDir+"/rc") {
		t.Errorf("env %q, want the image's then the history hooks", sp.Env)
	}
	if sp.User != "1000:1000" || sp.Dir != "/app" || sp.Network != "none" || sp.Stdin != io.Reader(stdin) || sp.Tty || sp.Prefill != "" {
		t.Errorf("user %q dir %q network %q stdin %v tty %v prefill %q", sp.User, sp.Dir, sp.Network, sp.Stdin, sp.Tty, sp.Prefill)
	}
	for _, w := range []string{"a shell in a temporary container after step 2/3: RUN make", "the step that failed ran: make"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("entry text %q lacks %q", out.String(), w)
		}
	}
	if got, want := c.Typed(), []Typed{{"echo hi > /app/f", 0, true}, {"make", 2, true}}; !slices.Equal(got, want) {
		t.Errorf("typed %+v, want %+v", got, want)
	}
	if got := c.RunLine(); got != "RUN echo hi > /app/f" {
		t.Errorf("RUN line %q", got)
	}
	ch, err := c.Changes()
	if err != nil || !slices.ContainsFunc(ch, func(c layers.Change) bool { return c.Path == "/app/f" }) {
		t.Errorf("changes %+v, %v; want /app/f", ch, err)
	}
	kept, line, err := c.Keep()
	if err != nil {
		t.Fatal(err)
	}
	if line != "RUN echo hi > /app/f" || len(kept.Layers) != 2 || kept.Layers[1] != kept.DiffID || !s.HasLayer(kept.DiffID) || kept.Parent != snap {
		t.Errorf("kept %+v, line %q", kept, line)
	}
	if h := kept.Config.History; len(h) == 0 || h[len(h)-1].CreatedBy != line {
		t.Errorf("kept history %+v", h)
	}
	if _, err := os.Stat(sp.TmpDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the shell's scratch %s is left after Keep: %v", sp.TmpDir, err)
	}

	// The default shell, --debug-shell, an image without /bin/sh, exec failure.
	cfg.Config.Shell = nil
	for _, c := range []struct {
		name, shell string
		layers      []v1.Hash
		runErr      error
		wantArgv    []string
		wantErr     string
	}{
		{name: "default", layers: cfg.RootFS.DiffIDs, wantArgv: []string{"/bin/sh"}},
		{name: "--debug-shell", shell: "/busybox", layers: nil, wantArgv: []string{"/busybox"}},
		{name: "no /bin/sh", layers: nil, wantErr: "give a static shell with --debug-shell PATH"},
		{name: "exec fails", layers: cfg.RootFS.DiffIDs, runErr: &sandbox.ExecError{Command: "/bin/sh", Err: "no such file"}, wantArgv: []string{"/bin/sh"}, wantErr: "(give one with --debug-shell PATH)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.specs = nil
			f.do = func(*sandbox.Spec, io.Writer, io.Writer) (int, error) { return 0, c.runErr }
			sh, err := b.Shell(&event.Snapshot{Config: cfg, Layers: c.layers}, ShellOptions{Shell: c.shell})
			if err != nil {
				t.Fatal(err)
			}
			sh.SetStdout(io.Discard)
			defer sh.Discard()
			err = sh.Run()
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("Run: %v, want %q", err, c.wantErr)
			}
			if c.wantArgv == nil {
				if len(f.specs) != 0 {
					t.Errorf("the runner ran %q", f.specs[0].Args)
				}
				return
			}
			if len(f.specs) != 1 || !slices.Equal(f.specs[0].Args, c.wantArgv) {
				t.Errorf("runs %+v, want argv %q", f.specs, c.wantArgv)
			}
		})
	}
}
