package build

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
)

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
