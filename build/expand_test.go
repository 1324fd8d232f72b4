package build

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/testutil"
	"github.com/strata-build/strata/layers"

	"github.com/strata-build/strata/build/event"
)

// measureMem and mib: testutil's, as in the front end's planning memory tests.
func measureMem(f func() any) testutil.MemUse { return testutil.MeasureMem(f) }

const mib = testutil.MiB

// metaBuild runs a FROM scratch Dockerfile's steps up to the first error,
// as the executor does, without containers (ARG, ENV, LABEL, WORKDIR and
// the expansion of any other step happen before it touches a file).
func metaBuild(t *testing.T, src string, opt frontend.Options) (*Executor, error) {
	t.Helper()
	p, err := frontend.Parse("Dockerfile", []byte(src), opt)
	if err != nil {
		return nil, err
	}
	store, err := layers.Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	opt.ContextDir = t.TempDir()
	e := &Executor{Store: store, Plan: p, Opt: opt, stages: map[int]*stageState{}}
	ctx := context.Background()
	for _, si := range p.Order {
		s := p.Stages[si]
		st, err := e.from(ctx, s)
		if err != nil {
			t.Fatalf("FROM: %v", err)
		}
		e.stages[s.Index] = st
		for i, c := range s.Commands {
			if err := e.dispatch(ctx, st, s.Steps[i+1], c); err != nil {
				return e, e.stepErr(st, c, err)
			}
		}
	}
	return e, nil
}

// chain is the reproduction: ARG (or ENV) aN=$aM eight times over,
// eight levels from a 100-byte value (a8 would be 1.6 GB).
func chain(inst string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s a0=%s\n", inst, strings.Repeat("x", 100))
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "%s a%d=%s\n", inst, i, strings.Repeat(fmt.Sprintf("$a%d", i-1), 8))
	}
	return b.String()
}

func wantExpansionError(t *testing.T, err error, line int, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one on line %d", line)
	}
	var ee *frontend.ExpansionError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v is not an ExpansionError", err)
	}
	if got := frontend.ErrorLine(err); got != line {
		t.Errorf("error on line %d, want %d: %v", got, line, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// The eleven lines, in each place expansion happens: refused on the
// first line over 1 MiB (a5: 100·8⁵ bytes), naming it, in little memory.
func TestExpansionLimitChains(t *testing.T) {
	const msg = "Dockerfile:%d: %s a5: value would be 3.1 MiB after expansion, over strata's 1 MiB limit"
	cases := []struct {
		name, src string
		line      int
		want      string
	}{
		{"global ARG", chain("ARG") + "FROM scratch\nLABEL x=$a8\n", 6, fmt.Sprintf(msg, 6, "ARG")},
		{"stage ARG", "FROM scratch\n" + chain("ARG") + "LABEL x=$a8\n", 7, fmt.Sprintf(msg, 7, "ARG")},
		{"ENV", "FROM scratch\n" + chain("ENV") + "LABEL x=$a8\n", 7, fmt.Sprintf(msg, 7, "ENV")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			m := measureMem(func() any { _, err = metaBuild(t, tc.src, frontend.Options{}); return nil })
			wantExpansionError(t, err, tc.line, tc.want)
			t.Logf("%v (allocated %d MB)", err, m.Total/mib)
			if m.Total > 64*mib {
				t.Errorf("allocated %d MB before refusing, want under 64 MB", m.Total/mib)
			}
		})
	}
}

// One word that would jump from under the limit to gigabytes is refused
// from its estimate, before the lexer runs: a thousand references to a
// 1 MiB value, and a substitution replacing every byte of it with itself.
func TestExpansionLimitOneWord(t *testing.T) {
	big := "FROM scratch\nARG k=" + strings.Repeat("k", 1024) + "\nENV m=" + strings.Repeat("$k", 1024) + "\n" // m: exactly 1 MiB
	cases := []struct {
		name, line string
		want       []string
	}{
		{"LABEL with 1000 references", "LABEL l=" + strings.Repeat("$m", 1000), []string{"LABEL l: value could reach 1000.0 MiB after expansion", "over strata's 1 MiB limit"}},
		{"substitution", "ENV s=${m//?/$m}", []string{"ENV s: value could reach 2.0 TiB"}},
		{"WORKDIR", "WORKDIR /" + strings.Repeat("$m", 20), []string{`WORKDIR "/$m$m`, "could reach 20.0 MiB"}},
		{"COPY source", "COPY " + strings.Repeat("$m", 17) + " /dst/", []string{`COPY "$m$m`, "could reach 17.0 MiB"}},
		{"COPY --chown", "COPY --chown=$m$m /a /b", []string{"COPY", "value would be 2 MiB"}},
		{"RUN --mount", "RUN --mount=type=cache,target=/$m$m true", []string{`RUN "/$m$m"`, "value would be 2.0 MiB"}},
		{"EXPOSE", "EXPOSE " + strings.Repeat("$m", 2), []string{"EXPOSE $m$m: value would be 2 MiB"}},
		{"USER", "USER $m$m", []string{"USER", "value would be 2 MiB"}},
		{"ENV name", "ENV $m$m=1", []string{"ENV name $m$m: value would be 2 MiB"}},
		{"ARG default", "ARG d=$m$m", []string{"ARG d: value would be 2 MiB"}},
		{"heredoc", "COPY <<EOF /f\n" + strings.Repeat("$m", 30) + "\nEOF", []string{"COPY", "could reach 30.0 MiB"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			m := measureMem(func() any { _, err = metaBuild(t, big+tc.line+"\n", frontend.Options{}); return nil })
			wantExpansionError(t, err, 4, tc.want...)
			t.Logf("%v (allocated %d MB)", err, m.Total/mib)
			if m.Total > 64*mib {
				t.Errorf("allocated %d MB before refusing, want under 64 MB", m.Total/mib)
			}
		})
	}
	// The 1 MiB value itself, and 1 MiB after expansion, are fine.
	var err error
	m := measureMem(func() any { _, err = metaBuild(t, big+"LABEL l=$m\n", frontend.Options{}); return nil })
	if err != nil {
		t.Fatalf("a 1 MiB value: %v", err)
	}
	t.Logf("the same build with a 1 MiB LABEL allocated %d MB", m.Total/mib)
}

// Each line of `ENV aN=$m` adds up to 1 MiB from a few bytes (40 lines of a
// 3.5 KB Dockerfile made a 921 MB heap): all expansions of a build add at
// most 8 MiB, and the line that passes it is refused.
func TestExpansionLimitTotal(t *testing.T) {
	var b strings.Builder
	b.WriteString("FROM scratch\nARG k=" + strings.Repeat("k", 1024) + "\nARG m=" + strings.Repeat("$k", 1024) + "\n") // m: 1 MiB
	for i := range 40 {
		fmt.Fprintf(&b, "ENV a%d=$m\n", i)
	}
	var err error
	m := measureMem(func() any { _, err = metaBuild(t, b.String(), frontend.Options{}); return nil })
	// ARG m adds 1 MiB less 2 KiB, each ENV 1 MiB less 2 bytes: the eighth
	// ENV (line 11) brings it to 9 MiB less 2 KiB, over 8 MiB.
	wantExpansionError(t, err, 11, "Dockerfile:11: ENV a7: with this value, expansion has added 9.0 MiB to this build, over strata's 8 MiB limit for all variables' values together")
	t.Logf("%v (allocated %d MB, peak heap %d MB)", err, m.Total/mib, m.Peak/mib)
	if m.Peak > 400*mib {
		t.Errorf("peak heap %d MB before refusing, want under 400 MB", m.Peak/mib)
	}
}

// TestUndefinedVarQA: as in BuildKit, a variable declared with ARG NAME in
// the stage (no value, no --build-arg) is not "undefined": no
// UndefinedVar warning for ${NAME:-default}; an undeclared one still has it.
func TestUndefinedVarQA(t *testing.T) {
	store := newStore(t)
	r := build(t, store, "FROM scratch\nARG UNSET\nENV C=${UNSET:-dflt} D=$NOWHERE\n", nil, frontend.Options{}).mustOK(t)
	var got []string
	for _, ev := range r.events {
		if w, ok := ev.(event.Warning); ok && w.Rule == "UndefinedVar" {
			got = append(got, w.Message)
		}
	}
	if s := strings.Join(got, "; "); strings.Contains(s, "UNSET") || !strings.Contains(s, "NOWHERE") {
		t.Errorf("UndefinedVar warnings: %q; want one for $NOWHERE only", s)
	}
	if env := strings.Join(r.cfg().Config.Env, " "); !strings.Contains(env, "C=dflt") {
		t.Errorf("Env %s lacks C=dflt", env)
	}
}
