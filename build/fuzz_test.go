package build

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

var fuzzSeeds = []string{
	"FROM scratch\nENV A=1\n",
	"ARG B=scratch\nFROM ${B} AS one\nCOPY --from=one a b /c/\n",
	"# escape=`\nFROM scratch\nENV W=C:\\dir `\n  X=1\n",
	"# syntax=docker/dockerfile:1\n# check=skip=all\nFROM scratch\nCOPY <<EOF /f\nhello $A\nEOF\n",
	"FROM scratch\nRUN <<EOT bash\nset -e\necho hi\nEOT\n",
	"FROM scratch\nCOPY <<one <<two /d/\n1\none\n2\ntwo\n",
	"FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n",
	"FROM scratch\nHEALTHCHECK --interval=5s CMD [\"true\"]\nEXPOSE 80-90/udp\nONBUILD RUN x\n",
	"FROM --platform=$BUILDPLATFORM scratch\nARG TARGETARCH\nWORKDIR /$TARGETARCH\n",
	"FROM scratch\nENV ${A:-${B:+x}}=1\nLABEL \"a\\\"b\"=c\n",
	"from scratch\nenv a b\n",
	"FROM scratch\\\n\n\nENV A\n",
	"",
	"\x00\xff",
}

// FuzzParse: the front end must never panic, and a plan it accepts is
// self-consistent.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "")
	}
	f.Add("FROM scratch AS x\nFROM x\n", "x")
	f.Fuzz(func(t *testing.T, src, target string) {
		p, err := frontend.Parse("Dockerfile", []byte(src), frontend.Options{Target: target, BuildArgs: map[string]string{"A": "1"}})
		if err != nil {
			_ = frontend.ErrorLine(err)
			return
		}
		if p.Target < 0 || p.Target >= len(p.Stages) {
			t.Fatalf("Target %d of %d stages", p.Target, len(p.Stages))
		}
		seen := map[int]bool{}
		for _, si := range p.Order {
			for _, d := range p.Stages[si].Deps {
				if d < len(p.Stages) && !seen[d] && d != si {
					t.Fatalf("stage %d built before its dependency %d (order %v)", si, d, p.Order)
				}
			}
			seen[si] = true
		}
		for i, s := range p.Steps {
			if s.Index != i {
				t.Fatalf("step %d has index %d", i, s.Index)
			}
		}
	})
}

// FuzzExpand feeds words to the shell lexer through ENV (and LABEL, in
// the escape directive's two flavours) in a metadata-only build: no panic,
// and any failure is an error on the right line.
func FuzzExpand(f *testing.F) {
	for _, w := range []string{"$A", "${A:-x}", "${A:+y}", "${NOPE:?msg}", "\\$A", "'$A'", "\"$A\"", "${A", "$", "${}", "a\\ b", "${A/x/y}", "${A#p}", "`$A`", "${A:-${B:-c}}"} {
		f.Add(w, false)
		f.Add(w, true)
	}
	store, err := layers.Open(filepath.Join(f.TempDir(), "root"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	f.Fuzz(func(t *testing.T, word string, backtick bool) {
		if strings.ContainsAny(word, "\n\r") {
			return // one line per instruction
		}
		head := ""
		if backtick {
			head = "# escape=`\n"
		}
		src := head + "FROM scratch\nENV A=a B=b\nENV X=" + word + "\nLABEL l=" + word + "\n"
		p, err := frontend.Parse("Dockerfile", []byte(src), frontend.Options{})
		if err != nil {
			return
		}
		e := &Executor{Store: store, Plan: p, Opt: frontend.Options{ContextDir: t.TempDir()}}
		ctx := context.Background()
		for _, s := range p.Stages {
			st, err := e.from(ctx, s)
			if err != nil {
				t.Fatalf("FROM scratch: %v", err)
			}
			if e.stages == nil {
				e.stages = map[int]*stageState{}
			}
			e.stages[s.Index] = st
			e.lint = nil
			for i, c := range s.Commands {
				if err := e.dispatch(ctx, st, s.Steps[i+1], c); err != nil {
					le := e.stepErr(st, c, err)
					if frontend.ErrorLine(le) == 0 {
						t.Fatalf("error without a line: %v", le)
					}
					return
				}
			}
		}
	})
}
