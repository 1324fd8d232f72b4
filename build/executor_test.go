package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/internal/testutil/rootfs"
	"github.com/strata-build/strata/layers"
)

// ---- helpers shared by the build/ tests ----

// newStore opens a store in a fresh temp dir, closed at the end of the test.
func newStore(t testing.TB) *layers.Store {
	t.Helper()
	return testutil.TempStore(t, layers.Open)
}

// writeTree is testutil.WriteTree (shared with the front end's tests).
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	testutil.WriteTree(t, dir, files)
}

// buildRun is the outcome of one build.
type buildRun struct {
	store  *layers.Store
	ctxDir string
	plan   *frontend.Plan
	res    *Result
	err    error
	events []event.Event
}

// build writes dockerfile (as CONTEXT/Dockerfile unless opt.Dockerfile is
// set) and files into a new context and builds it into store.
func build(t testing.TB, store *layers.Store, dockerfile string, files map[string]string, opt frontend.Options) *buildRun {
	t.Helper()
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, files)
	if opt.Dockerfile == "" {
		if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opt.ContextDir = ctxDir
	return buildIn(t, store, opt, nil)
}

// buildIn plans and runs a build of opt.ContextDir; runner may be nil.
func buildIn(t testing.TB, store *layers.Store, opt frontend.Options, runner Runner) *buildRun {
	t.Helper()
	return buildCtx(context.Background(), t, store, opt, runner)
}

// buildCtx is buildIn with a context: the one place the build tests plan
// and run a build and collect its events.
func buildCtx(ctx context.Context, t testing.TB, store *layers.Store, opt frontend.Options, runner Runner) *buildRun {
	t.Helper()
	r := &buildRun{store: store, ctxDir: opt.ContextDir}
	p, err := frontend.NewPlan(opt)
	r.plan = p
	if err != nil {
		r.err = err
		return r
	}
	e := &Executor{Store: store, Plan: p, Opt: opt, Runner: runner}
	ch := make(chan event.Event, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range ch {
			r.events = append(r.events, ev)
		}
	}()
	r.res, r.err = e.Build(ctx, ch)
	wg.Wait()
	return r
}

func (r *buildRun) mustOK(t testing.TB) *buildRun {
	t.Helper()
	if r.err != nil {
		t.Fatalf("build failed: %v", r.err)
	}
	return r
}

// cfg is the built image's config.
func (r *buildRun) cfg() *v1.ConfigFile { return r.res.Config }

// env returns the image's ENV as a map.
func (r *buildRun) env() map[string]string {
	m := map[string]string{}
	for _, kv := range r.cfg().Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// lastDone is the StepDone of the last step of the plan.
func (r *buildRun) stepDone(t testing.TB, step int) event.StepDone {
	t.Helper()
	for _, ev := range r.events {
		if d, ok := ev.(event.StepDone); ok && d.Step == step {
			return d
		}
	}
	t.Fatalf("no StepDone for step %d", step)
	return event.StepDone{}
}

// lastStep is the plan index of the last step.
func (r *buildRun) lastStep() int { return len(r.plan.Steps) - 1 }

// changes lists "path type" of the last step's changes, sorted, dropping
// the directories listed in skipDirs (parents copied up).
func (r *buildRun) changedPaths(t testing.TB, step int) []string {
	t.Helper()
	d := r.stepDone(t, step)
	var out []string
	for _, c := range snapChanges(t, r.store, d.Snapshot) {
		out = append(out, c.Path)
	}
	sort.Strings(out)
	return out
}

// change finds one change of a step.
func (r *buildRun) change(t testing.TB, step int, p string) layers.Change {
	t.Helper()
	for _, c := range snapChanges(t, r.store, r.stepDone(t, step).Snapshot) {
		if c.Path == p {
			return c
		}
	}
	t.Fatalf("step %d changed no %s; changes: %v", step, p, r.changedPaths(t, step))
	return layers.Change{}
}

// stepLayer is the unpacked fs of the layer a step made.
func (r *buildRun) stepLayer(t testing.TB, step int) string {
	t.Helper()
	d := r.stepDone(t, step)
	if d.DiffID == "" {
		t.Fatalf("step %d made no layer", step)
	}
	h, err := v1.NewHash(d.DiffID)
	if err != nil {
		t.Fatal(err)
	}
	return r.store.LayerFS(h)
}

// storeState is what a failed build must leave as it was.
type storeState struct{ layers, images []string }

func snapshotStore(t testing.TB, s *layers.Store) storeState {
	t.Helper()
	ls, err := s.Layers()
	if err != nil {
		t.Fatal(err)
	}
	is, err := s.Images()
	if err != nil {
		t.Fatal(err)
	}
	var st storeState
	for _, l := range ls {
		st.layers = append(st.layers, l.DiffID.String())
	}
	for _, i := range is {
		st.images = append(st.images, i.Name+"="+i.Config.String())
	}
	sort.Strings(st.layers)
	sort.Strings(st.images)
	return st
}

// busyboxRootfs is the busybox root filesystem as a layer tar (made once);
// the test is skipped with the reason when no static busybox is installed.
func busyboxRootfs(t testing.TB) []byte {
	t.Helper()
	return rootfs.BusyboxTar(t)
}

// needRoot skips tests that chown files.
func needRoot(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t, "COPY --chown and extraction set file owners")
}

// ---- image config and history (BuildKit's strings) ----

type hist struct {
	createdBy string
	empty     bool
}

func histories(cfg *v1.ConfigFile) []hist {
	var out []hist
	for _, h := range cfg.History {
		out = append(out, hist{h.CreatedBy, h.EmptyLayer})
	}
	return out
}

// TestConfigAndHistory checks the config fields and the history entries
// against what BuildKit v0.34 (dockerfile2llb/convert.go dispatch*) writes.
func TestConfigAndHistory(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	df := `FROM scratch
ADD rootfs.tar /
MAINTAINER Jane <jane@example.com>
LABEL a=b "c d"=e
ENV A=b C="d e"
ENV PATH=/opt/bin:$PATH
EXPOSE 80 8000/udp 9000-9001
VOLUME /data /cache
USER app
WORKDIR /home/app
WORKDIR /srv/x
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=3 CMD ["true"]
SHELL ["/bin/sh", "-ec"]
ARG X=1
ARG Y
ONBUILD RUN echo hi
COPY a /b
CMD ["/bin/echo", "hi"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD run $A
`
	r := build(t, store, df, map[string]string{"rootfs.tar": string(busyboxRootfs(t)), "a": "A"}, frontend.Options{}).mustOK(t)
	c := r.cfg()
	want := []hist{
		{"ADD rootfs.tar / # buildkit", false},
		{"MAINTAINER Jane <jane@example.com>", true},
		{"LABEL a=b c d=e", true},
		{"ENV A=b C=d e", true},
		{"ENV PATH=/opt/bin:" + DefaultPathEnv, true},
		{"EXPOSE [80/tcp 8000/udp 9000/tcp 9001/tcp]", true},
		{"VOLUME [/data /cache]", true},
		{"USER app", true},
		{"WORKDIR /home/app", false}, // exists in the rootfs: no change, an empty layer (as BuildKit)
		{"WORKDIR /srv/x", false},
		{"STOPSIGNAL SIGINT", true},
		{"HEALTHCHECK {Test:[CMD true] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}", true},
		{"SHELL [/bin/sh -ec]", true},
		{"ARG X=1", true},
		{"ARG Y", true},
		// ONBUILD: BuildKit's dispatchOnbuild writes no history entry.
		{"COPY a /b # buildkit", false},
		{`CMD ["/bin/echo" "hi"]`, true},
		{`ENTRYPOINT ["/bin/sh" "-c"]`, true},
		{`CMD ["/bin/sh" "-ec" "run $A"]`, true},
	}
	got := histories(c)
	if len(got) != len(want) {
		t.Errorf("history has %d entries, want %d", len(got), len(want))
	}
	for i := range max(len(got), len(want)) {
		var g, w hist
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("history[%d] = %+v, want %+v", i, g, w)
		}
	}
	for _, h := range c.History {
		if h.Comment != "buildkit.dockerfile.v0" {
			t.Errorf("history %q: comment %q, want buildkit.dockerfile.v0", h.CreatedBy, h.Comment)
		}
	}
	// Layers: ADD, WORKDIR /home/app (empty), WORKDIR /srv/x, COPY.
	if n := len(c.RootFS.DiffIDs); n != 4 {
		t.Errorf("%d layers, want 4 (an empty layer is kept, as BuildKit keeps it)", n)
	}
	nonEmpty := 0
	for _, h := range c.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(c.RootFS.DiffIDs) {
		t.Errorf("%d non-empty history entries for %d layers", nonEmpty, len(c.RootFS.DiffIDs))
	}

	cc := c.Config
	checks := []struct {
		name      string
		got, want any
	}{
		{"Author", c.Author, "Jane <jane@example.com>"},
		{"Labels", cc.Labels, map[string]string{"a": "b", "c d": "e"}},
		{"Env", cc.Env, []string{"PATH=/opt/bin:" + DefaultPathEnv, "A=b", "C=d e"}},
		{"ExposedPorts", keys(cc.ExposedPorts), []string{"80/tcp", "8000/udp", "9000/tcp", "9001/tcp"}},
		{"Volumes", keys(cc.Volumes), []string{"/cache", "/data"}},
		{"User", cc.User, "app"},
		{"WorkingDir", cc.WorkingDir, "/srv/x"},
		{"StopSignal", cc.StopSignal, "SIGINT"},
		{"Healthcheck.Test", cc.Healthcheck.Test, []string{"CMD", "true"}},
		{"Healthcheck.Interval", cc.Healthcheck.Interval.String(), "5s"},
		{"Healthcheck.Retries", cc.Healthcheck.Retries, 3},
		{"Shell", cc.Shell, []string{"/bin/sh", "-ec"}},
		{"OnBuild", cc.OnBuild, []string{"RUN echo hi"}},
		{"Entrypoint", cc.Entrypoint, []string{"/bin/sh", "-c"}},
		// CMD after ENTRYPOINT is kept, in the SHELL of the stage.
		{"Cmd", cc.Cmd, []string{"/bin/sh", "-ec", "run $A"}},
		{"ArgsEscaped", cc.ArgsEscaped, true},
		{"OS", c.OS, "linux"},
		{"Architecture", c.Architecture, runtime.GOARCH},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("config %s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	// ARGs never reach the image's ENV.
	if _, ok := r.env()["X"]; ok {
		t.Error("ARG X leaked into the image ENV")
	}
	// The WORKDIR made as USER app belongs to app (BuildKit mkdir WithUser).
	ch := r.change(t, 10, "/srv/x")
	if ch.UID != 1000 || ch.GID != 1000 {
		t.Errorf("WORKDIR /srv/x owned by %d:%d, want 1000:1000 (USER app)", ch.UID, ch.GID)
	}
}

func keys(m map[string]struct{}) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEntrypointResetsCmd: Docker's documented rule — "If CMD is defined
// from the base image, setting ENTRYPOINT will reset CMD to an empty value".
func TestEntrypointResetsCmd(t *testing.T) {
	store := newStore(t)
	cases := []struct {
		name      string
		df        string
		wantCmd   []string
		wantEntry []string
	}{
		{"inherited CMD reset by ENTRYPOINT", "FROM scratch AS base\nCMD [\"a\"]\nFROM base\nENTRYPOINT [\"e\"]\n", nil, []string{"e"}},
		{"CMD of the same stage kept", "FROM scratch\nCMD [\"a\"]\nENTRYPOINT [\"e\"]\n", []string{"a"}, []string{"e"}},
		{"CMD after ENTRYPOINT kept", "FROM scratch\nENTRYPOINT [\"e\"]\nCMD [\"a\"]\n", []string{"a"}, []string{"e"}},
		{"shell form entrypoint", "FROM scratch\nENTRYPOINT e x\n", nil, []string{"/bin/sh", "-c", "e x"}},
		{"inherited CMD without ENTRYPOINT", "FROM scratch AS base\nCMD [\"a\"]\nFROM base\nENV X=1\n", []string{"a"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, store, tc.df, nil, frontend.Options{}).mustOK(t)
			if fmt.Sprint(r.cfg().Config.Cmd) != fmt.Sprint(tc.wantCmd) || len(r.cfg().Config.Cmd) != len(tc.wantCmd) {
				t.Errorf("Cmd = %q, want %q", r.cfg().Config.Cmd, tc.wantCmd)
			}
			if fmt.Sprint(r.cfg().Config.Entrypoint) != fmt.Sprint(tc.wantEntry) {
				t.Errorf("Entrypoint = %q, want %q", r.cfg().Config.Entrypoint, tc.wantEntry)
			}
		})
	}
}

// TestHistoryStrings covers more created_by forms, one Dockerfile each.
func TestHistoryStrings(t *testing.T) {
	store := newStore(t)
	cases := []struct {
		name, df string
		files    map[string]string
		want     hist // of the last instruction
	}{
		{"CMD shell form", "FROM scratch\nCMD x\n", nil, hist{`CMD ["/bin/sh" "-c" "x"]`, true}},
		{"CMD exec form", "FROM scratch\nCMD [\"/bin/x\", \"-y\"]\n", nil, hist{`CMD ["/bin/x" "-y"]`, true}},
		{"ENV one", "FROM scratch\nENV A=b\n", nil, hist{"ENV A=b", true}},
		{"ENV legacy form", "FROM scratch\nENV A b c\n", nil, hist{"ENV A=b c", true}},
		// BuildKit's parseExpose sorts the words as written, then expands ranges in order.
		{"EXPOSE words sorted as written", "FROM scratch\nEXPOSE 8000/udp 80\n", nil, hist{"EXPOSE [80/tcp 8000/udp]", true}},
		{"EXPOSE range expanded in numeric order", "FROM scratch\nEXPOSE 9-11\n", nil, hist{"EXPOSE [9/tcp 10/tcp 11/tcp]", true}},
		{"EXPOSE duplicates kept", "FROM scratch\nEXPOSE 80 80\n", nil, hist{"EXPOSE [80/tcp 80/tcp]", true}},
		{"EXPOSE expands variables into words", "FROM scratch\nENV P=\"8080 53/udp\"\nEXPOSE $P\n", nil, hist{"EXPOSE [8080/tcp 53/udp]", true}},
		{"EXPOSE sorted input", "FROM scratch\nEXPOSE 80 8000/udp\n", nil, hist{"EXPOSE [80/tcp 8000/udp]", true}},
		{"EXPOSE upper-case proto", "FROM scratch\nEXPOSE 53/UDP\n", nil, hist{"EXPOSE [53/udp]", true}},
		{"ARG with default", "FROM scratch\nARG X=1\n", nil, hist{"ARG X=1", true}},
		{"ARG from --build-arg", "FROM scratch\nARG X=1\n", nil, hist{"ARG X=1", true}},
		{"WORKDIR root", "FROM scratch\nWORKDIR /\n", nil, hist{"WORKDIR /", true}},
		{"WORKDIR new dir", "FROM scratch\nWORKDIR /x\n", nil, hist{"WORKDIR /x", false}},
		{"WORKDIR relative", "FROM scratch\nWORKDIR /x\nWORKDIR y\n", nil, hist{"WORKDIR /x/y", false}},
		{"COPY", "FROM scratch\nCOPY a /b\n", map[string]string{"a": "1"}, hist{"COPY a /b # buildkit", false}},
		{"COPY flags", "FROM scratch\nCOPY --chown=1:2 --chmod=600 a b /d/\n", map[string]string{"a": "1", "b": "2"}, hist{"COPY --chown=1:2 --chmod=600 a b /d/ # buildkit", false}},
		{"COPY --from (not in BuildKit's history)", "FROM scratch AS s\nCOPY a /a\nFROM scratch\nCOPY --from=s /a /b\n", map[string]string{"a": "1"}, hist{"COPY /a /b # buildkit", false}},
		{"COPY --parents", "FROM scratch\nCOPY --parents x/a /d/\n", map[string]string{"x/a": "1"}, hist{"COPY --parents x/a /d/ # buildkit", false}},
		{"COPY heredoc", "FROM scratch\nCOPY <<EOF /f\nhi\nEOF\n", nil, hist{"COPY <<EOF /f # buildkit", false}},
		{"ADD", "FROM scratch\nADD a /b\n", map[string]string{"a": "1"}, hist{"ADD a /b # buildkit", false}},
		{"STOPSIGNAL number", "FROM scratch\nSTOPSIGNAL 9\n", nil, hist{"STOPSIGNAL 9", true}},
		{"LABEL quoted", "FROM scratch\nLABEL \"x y\"=\"1 2\"\n", nil, hist{"LABEL x y=1 2", true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, store, tc.df, tc.files, frontend.Options{}).mustOK(t)
			h := histories(r.cfg())
			if len(h) == 0 {
				t.Fatal("no history")
			}
			if got := h[len(h)-1]; got != tc.want {
				t.Errorf("last history = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// ---- expansion ----

func TestExpansion(t *testing.T) {
	store := newStore(t)
	cases := []struct {
		name string
		df   string
		args map[string]string
		plat string
		want map[string]string // ENV of the image ("" = must be set and empty)
		not  []string          // ENV names that must be absent
	}{
		{
			name: "default and alternate",
			df: `FROM scratch
ARG A=1
ENV B=${A:-x} C=${NOPE:-def} D=${A:+set} E=${NOPE:+set} F=${A}${A}
`,
			want: map[string]string{"B": "1", "C": "def", "D": "set", "E": "", "F": "11"},
		},
		{
			name: "escapes and quotes",
			df: `FROM scratch
ENV A=1
ENV B=\$A C='$A' D="$A" E="\"q\"" F=a\ b
`,
			want: map[string]string{"B": "$A", "C": "$A", "D": "1", "E": `"q"`, "F": "a b"},
		},
		{
			name: "escape directive backtick",
			df:   "# escape=`\nFROM scratch\nENV A=1\nENV W=C:\\dir\\$A B=`$A C=x`\n  D=2\n",
			want: map[string]string{"W": `C:\dir\1`, "B": "$A", "C": "x", "D": "2"},
		},
		{
			name: "global ARG used in FROM, invisible until redeclared",
			df: `ARG BASE=scratch
ARG V=global
FROM ${BASE}
ENV BEFORE=${V:-unset}
ARG V
ENV AFTER=$V
`,
			want: map[string]string{"BEFORE": "unset", "AFTER": "global"},
		},
		{
			name: "global ARG overridden by --build-arg, then redeclared",
			df: `ARG V=global
FROM scratch
ARG V
ENV V2=$V
`,
			args: map[string]string{"V": "cli"},
			want: map[string]string{"V2": "cli"},
		},
		{
			name: "stage ARG redeclared with its own default",
			df: `ARG V=global
FROM scratch
ARG V=stage
ENV V2=$V
`,
			want: map[string]string{"V2": "stage"},
		},
		{
			name: "--build-arg overrides the default",
			df:   "FROM scratch\nARG X=def\nENV Y=$X\n",
			args: map[string]string{"X": "cli"},
			want: map[string]string{"Y": "cli"},
		},
		{
			name: "ARG without default and no --build-arg is empty",
			df:   "FROM scratch\nARG X\nENV Y=${X:-empty}\n",
			want: map[string]string{"Y": "empty"},
		},
		{
			name: "ENV overrides ARG of the same name",
			df:   "FROM scratch\nARG X=arg\nENV X=env\nENV Y=$X\n",
			args: map[string]string{"X": "cli"},
			want: map[string]string{"X": "env", "Y": "env"},
		},
		{
			name: "ARG default expands earlier ARG and ENV",
			df:   "FROM scratch\nENV E=e\nARG A=a\nARG B=${A}-${E}\nENV R=$B\n",
			want: map[string]string{"R": "a-e"},
		},
		{
			name: "ARG default is expanded once",
			df:   "FROM scratch\nARG A=\\$HOME\nENV R=$A\n",
			want: map[string]string{"R": "$HOME"},
		},
		{
			name: "ARG does not leak into ENV",
			df:   "FROM scratch\nARG A=1\nENV B=$A\n",
			want: map[string]string{"B": "1"},
			not:  []string{"A"},
		},
		{
			name: "predefined platform args need ARG in the stage",
			df: `FROM scratch
ENV BEFORE=${TARGETARCH:-none}
ARG TARGETARCH
ARG TARGETPLATFORM
ARG BUILDPLATFORM
ARG TARGETOS
ENV ARCH=$TARGETARCH PLAT=$TARGETPLATFORM BP=$BUILDPLATFORM OS=$TARGETOS
`,
			want: map[string]string{"BEFORE": "none", "ARCH": runtime.GOARCH, "PLAT": "linux/" + runtime.GOARCH, "BP": "linux/" + runtime.GOARCH, "OS": "linux"},
		},
		{
			name: "--platform sets TARGET args, not BUILD args",
			df: `FROM scratch
ARG TARGETPLATFORM
ARG TARGETARCH
ARG TARGETVARIANT
ARG BUILDARCH
ENV P=$TARGETPLATFORM A=$TARGETARCH V=$TARGETVARIANT B=$BUILDARCH
`,
			plat: "linux/arm/v7",
			want: map[string]string{"P": "linux/arm/v7", "A": "arm", "V": "v7", "B": runtime.GOARCH},
		},
		{
			name: "predefined platform args are usable in FROM scope",
			df:   "FROM --platform=$BUILDPLATFORM scratch\nARG BUILDOS\nENV O=$BUILDOS\n",
			want: map[string]string{"O": "linux"},
		},
		{
			name: "proxy args are not expanded until declared",
			df:   "FROM scratch\nENV BEFORE=${HTTP_PROXY:-none}\nARG HTTP_PROXY\nENV AFTER=$HTTP_PROXY\n",
			args: map[string]string{"HTTP_PROXY": "http://proxy:3128"},
			want: map[string]string{"BEFORE": "none", "AFTER": "http://proxy:3128"},
		},
		{
			name: "WORKDIR and LABEL expand ENV",
			df:   "FROM scratch\nENV D=/srv N=app\nWORKDIR $D/${N}\nLABEL name=$N\n",
			want: map[string]string{"D": "/srv", "N": "app"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, store, tc.df, nil, frontend.Options{BuildArgs: tc.args, Platform: tc.plat}).mustOK(t)
			env := r.env()
			for k, v := range tc.want {
				got, ok := env[k]
				if !ok {
					t.Errorf("ENV %s missing; env = %q", k, r.cfg().Config.Env)
					continue
				}
				if got != v {
					t.Errorf("ENV %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.not {
				if _, ok := env[k]; ok {
					t.Errorf("ENV %s is set, want absent", k)
				}
			}
		})
	}
}

func TestExpansionInWorkdirAndLabel(t *testing.T) {
	store := newStore(t)
	r := build(t, store, "FROM scratch\nENV D=/srv N=app\nWORKDIR $D/${N}\nLABEL name=$N \"k$N\"=v\n", nil, frontend.Options{}).mustOK(t)
	if wd := r.cfg().Config.WorkingDir; wd != "/srv/app" {
		t.Errorf("WorkingDir = %q, want /srv/app", wd)
	}
	if l := r.cfg().Config.Labels; l["name"] != "app" || l["kapp"] != "v" {
		t.Errorf("Labels = %v, want name=app kapp=v", l)
	}
}

// fakeRunner records RUN requests and changes nothing.
type fakeRunner struct{ reqs []*RunRequest }

func (f *fakeRunner) Run(ctx context.Context, r *RunRequest) (int, error) {
	f.reqs = append(f.reqs, r)
	return 0, nil
}

// TestRunEnvAndHistory: a RUN sees ARGs and proxy build args in its
// environment; BuildKit's history names the ARGs ("RUN |N K=V ...") but
// never the proxy args.
func TestRunEnvAndHistory(t *testing.T) {
	store := newStore(t)
	ctxDir := t.TempDir()
	df := "FROM scratch\nARG A=1\nENV E=e\nRUN echo $A\n"
	writeTree(t, ctxDir, map[string]string{"Dockerfile": df})
	fr := &fakeRunner{}
	r := buildIn(t, store, frontend.Options{ContextDir: ctxDir, BuildArgs: map[string]string{"HTTP_PROXY": "http://p:1", "A": "2"}}, fr).mustOK(t)
	if len(fr.reqs) != 1 {
		t.Fatalf("%d RUN requests, want 1", len(fr.reqs))
	}
	env := strings.Join(fr.reqs[0].Env, "\n")
	for _, want := range []string{"A=2", "E=e", "HTTP_PROXY=http://p:1", "PATH=" + DefaultPathEnv} {
		if !strings.Contains(env+"\n", want+"\n") {
			t.Errorf("RUN env lacks %s:\n%s", want, env)
		}
	}
	if got := fmt.Sprint(fr.reqs[0].Args); got != "[/bin/sh -c echo $A]" {
		t.Errorf("RUN args %s, want [/bin/sh -c echo $A]", got)
	}
	h := histories(r.cfg())
	if last := h[len(h)-1]; last.createdBy != "RUN |1 A=2 /bin/sh -c echo $A # buildkit" || last.empty {
		t.Errorf("RUN history %+v, want {RUN |1 A=2 /bin/sh -c echo $A # buildkit false} (no change: an empty layer, as BuildKit)", last)
	}
	if len(r.plan.UnusedBuildArgs) != 0 {
		t.Errorf("UnusedBuildArgs = %v: proxy args are predefined", r.plan.UnusedBuildArgs)
	}
}

// TestRunWithoutRunner: with no sandbox RUN fails saying so, on its line.
func TestRunWithoutRunner(t *testing.T) {
	store := newStore(t)
	before := snapshotStore(t, store)
	r := build(t, store, "FROM scratch\nENV A=1\nRUN true\n", nil, frontend.Options{})
	if r.err == nil || frontend.ErrorLine(r.err) != 3 || !strings.Contains(r.err.Error(), "RUN cannot execute here") {
		t.Fatalf("err = %v (line %d), want Dockerfile:3 RUN cannot execute here", r.err, frontend.ErrorLine(r.err))
	}
	if after := snapshotStore(t, store); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("store changed: %v -> %v", before, after)
	}
}

// TestOnbuildTriggers: ONBUILD triggers of a base image run right after
// FROM in the child build, then are cleared.
func TestOnbuildTriggers(t *testing.T) {
	store := newStore(t)
	build(t, store, "FROM scratch\nONBUILD ENV FROM_TRIGGER=yes\n", nil, frontend.Options{Tags: []string{"onbase"}}).mustOK(t)
	r := build(t, store, "FROM onbase\nENV X=1\n", nil, frontend.Options{}).mustOK(t)
	if r.env()["FROM_TRIGGER"] != "yes" {
		t.Errorf("trigger did not run: env %q", r.cfg().Config.Env)
	}
	if len(r.cfg().Config.OnBuild) != 0 {
		t.Errorf("OnBuild = %q, want cleared", r.cfg().Config.OnBuild)
	}
}

// TestBuildKitEventOrder: every step gets Started then Done; the last
// event is BuildDone; the channel is closed.
func TestEventOrder(t *testing.T) {
	store := newStore(t)
	r := build(t, store, "FROM scratch\nENV A=1\nCOPY a /a\n", map[string]string{"a": "x"}, frontend.Options{}).mustOK(t)
	var types []string
	for _, ev := range r.events {
		types = append(types, ev.EventType())
	}
	want := "plan step_started log step_done step_started log step_done step_started log step_done build_done"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("events %s\nwant   %s", got, want)
	}
	bd := r.events[len(r.events)-1].(event.BuildDone)
	if bd.ImageID != r.res.ImageID.String() || bd.Layers != 1 || bd.Built != 3 {
		t.Errorf("BuildDone %+v", bd)
	}
	b, _ := json.Marshal(r.cfg())
	if !bytes.Contains(b, []byte(`"created"`)) {
		t.Errorf("config lacks created: %s", b)
	}
}

// ---- bad input ----

// tarEntry is one entry of a test tarball.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func makeTar(t testing.TB, ents []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Linkname: e.link, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// evilDockerArchive writes a `docker save`-style tarball whose one layer
// has entries that try to leave the extraction dir.
func evilDockerArchive(t testing.TB, file string, victim string) {
	t.Helper()
	layer := makeTar(t, []tarEntry{
		{name: "ok", body: "fine"},
		{name: "../evil", body: "escaped"},
		{name: victim, body: "escaped"},
	})
	diffID := sha256Hex(layer)
	cfg := fmt.Sprintf(`{"architecture":%q,"os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}`, runtime.GOARCH, diffID)
	cfgName := sha256Hex([]byte(cfg)) + ".json"
	manifest := fmt.Sprintf(`[{"Config":%q,"RepoTags":["evil:latest"],"Layers":["%s/layer.tar"]}]`, cfgName, diffID)
	out := makeTar(t, []tarEntry{
		{name: "manifest.json", body: manifest},
		{name: cfgName, body: cfg},
		{name: diffID + "/", typ: tar.TypeDir, mode: 0o755},
		{name: diffID + "/layer.tar", body: string(layer)},
	})
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	store := newStore(t)
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "s"})
	evil := filepath.Join(t.TempDir(), "evil.tar")
	victim := filepath.Join(t.TempDir(), "abs-victim")
	evilDockerArchive(t, evil, victim)

	cases := []struct {
		name  string
		df    string
		files map[string]string
		opt   frontend.Options
		line  int      // 0: the error is about a flag, not a line
		want  []string // substrings of the error
	}{
		{"unknown instruction", "FROM scratch\nCOPPY a /b\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "COPPY", "did you mean COPY", "instructions are: ADD"}},
		{"bad flag on COPY", "FROM scratch\nCOPY --bogus a /b\n", map[string]string{"a": "1"}, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "bogus", "write COPY [--from=STAGE]"}},
		{"COPY ../outside", "FROM scratch\nENV A=1\nCOPY ../secret /x\n", nil, frontend.Options{}, 3,
			[]string{"Dockerfile:3", "outside the build context", "move the file into the context"}},
		{"COPY symlink out of the context", "FROM scratch\nCOPY link /x\n", map[string]string{"link": "->" + filepath.Join(outside, "secret")}, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "symlink that leads outside the build context", "copy the target into the context"}},
		{"COPY through a symlinked dir out of the context", "FROM scratch\nCOPY ldir/secret /x\n", map[string]string{"ldir": "->" + outside}, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "outside the build context"}},
		{"missing source", "FROM scratch\nCOPY nope /x\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "nope", "not found in the build context"}},
		{"--from unknown stage", "FROM scratch AS a\nFROM scratch\nCOPY --from=nosuch /x /y\n", nil, frontend.Options{}, 3,
			[]string{"Dockerfile:3", "nosuch", "not a stage", "not in the local store"}},
		{"--target unknown", "FROM scratch AS one\nFROM scratch AS two\n", nil, frontend.Options{Target: "three"}, 0,
			[]string{"--target three", "one, two"}},
		{"stage based on itself", "FROM scratch\nFROM x AS x\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "based on itself"}},
		{"COPY --from itself", "FROM scratch AS a\nCOPY --from=a /x /y\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "cannot copy from itself"}},
		{"ENV empty name", "FROM scratch\nENV =x\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "blank", "write ENV NAME=value"}},
		{"ARG empty name", "FROM scratch\nARG =\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "blank", "write ARG NAME[=default]"}},
		{"ENV without value", "FROM scratch\nENV A\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "write ENV NAME=value"}},
		{"--chmod not octal", "FROM scratch\nCOPY --chmod=rwx a /a\n", map[string]string{"a": "1"}, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "octal"}},
		{"many sources, no slash", "FROM scratch\nCOPY a b /dir\n", map[string]string{"a": "1", "b": "2"}, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "must be a directory ending in /", "/dir/"}},
		{"EXPOSE bad port", "FROM scratch\nEXPOSE 99999\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "0 to 65535"}},
		{"STOPSIGNAL unknown", "FROM scratch\nSTOPSIGNAL SIGNOPE\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "SIGTERM"}},
		{"--chown by name with --link", "FROM scratch\nCOPY --link --chown=bob a /a\n", map[string]string{"a": "1"}, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "bob", "numeric uid"}},
		{"instruction before FROM", "ENV A=1\nFROM scratch\n", nil, frontend.Options{}, 1,
			[]string{"Dockerfile:1", "only ARG may come before the first FROM"}},
		{"no FROM at all", "# just a comment\n", nil, frontend.Options{}, 1,
			[]string{"no instructions", "FROM scratch"}},
		{"FROM of an empty ARG", "ARG B\nFROM $B\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "empty base image name", "--build-arg"}},
		{"--from index out of range", "FROM scratch\nCOPY --from=5 /a /b\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "no stage 5"}},
		{"docker-archive with ../ and absolute entries", "FROM scratch\nFROM docker-archive:" + evil + "\nENV A=1\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "docker-archive:" + evil, "evil"}},
		{"bad platform", "FROM scratch\n", nil, frontend.Options{Platform: "linux"}, 0,
			[]string{"--platform", "os/arch"}},
		{"COPY without arguments", "FROM scratch\nCOPY\n", nil, frontend.Options{}, 2,
			[]string{"Dockerfile:2", "SRC... DEST"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshotStore(t, store)
			r := build(t, store, tc.df, tc.files, tc.opt)
			if r.err == nil {
				t.Fatalf("build succeeded, want an error")
			}
			msg := r.err.Error()
			if got := frontend.ErrorLine(r.err); got != tc.line {
				t.Errorf("ErrorLine = %d, want %d (err: %v)", got, tc.line, r.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if after := snapshotStore(t, store); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("store changed by a failed build:\nbefore %v\nafter  %v", before, after)
			}
			// A failed build reports the line in its BuildDone too.
			if len(r.events) > 0 {
				bd, ok := r.events[len(r.events)-1].(event.BuildDone)
				if !ok || bd.Error == "" || bd.Line != tc.line {
					t.Errorf("last event %#v, want BuildDone with the error on line %d", r.events[len(r.events)-1], tc.line)
				}
			}
		})
	}
	if _, err := os.Lstat(victim); err == nil {
		t.Errorf("the docker-archive wrote %s outside the store", victim)
	}
	if _, err := os.Lstat(filepath.Join(store.Root(), "..", "evil")); err == nil {
		t.Errorf("the docker-archive wrote ../evil next to the store")
	}
	filepath.Walk(store.Root(), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == "evil" {
			t.Errorf("found %s in the store", p)
		}
		return nil
	})
}

// TestBadContext: the context must be an existing directory.
func TestBadContext(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeTree(t, dir, map[string]string{"file": "x"})
	cases := []struct {
		name, ctx string
		want      []string
	}{
		{"missing", filepath.Join(dir, "nope"), []string{"does not exist", "give a directory"}},
		{"a file", file, []string{"is not a directory", "give the directory"}},
		{"no Dockerfile", dir, []string{"no Dockerfile", "-f FILE"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := frontend.NewPlan(frontend.Options{ContextDir: tc.ctx})
			if err == nil {
				t.Fatal("NewPlan succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	_, err := frontend.NewPlan(frontend.Options{ContextDir: dir, Dockerfile: filepath.Join(dir, "missing.Dockerfile")})
	if err == nil || !strings.Contains(err.Error(), "-f") {
		t.Errorf("missing -f file: err = %v, want it to name -f", err)
	}
}
