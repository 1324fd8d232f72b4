package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// TestPrevInstruction: a step rebuilt because its instruction changed
// carries the last build's instruction, whole (the reason clips it at 80
// characters), in its own field of StepDone; other steps carry none.
func TestPrevInstruction(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	long := "RUN echo " + strings.Repeat("word ", 30)
	prevs := func(src string) map[int]string {
		t.Helper()
		if err := os.WriteFile(df, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		r := buildIn(t, store, frontend.Options{ContextDir: dir}, exitRunner{})
		out := map[int]string{}
		for _, ev := range r.events {
			if d, ok := ev.(event.StepDone); ok {
				out[d.Step] = d.PrevInstruction
			}
		}
		return out
	}
	prevs("FROM scratch\nENV A=1\n" + long + "one\nENV B=1\n")
	got := prevs("FROM scratch\nENV A=2\n" + long + "two\nENV B=1\n")
	want := map[int]string{0: "", 1: "ENV A=1", 2: long + "one", 3: ""}
	for step, w := range want {
		if got[step] != w {
			t.Errorf("step %d: PrevInstruction %q, want %q", step, got[step], w)
		}
	}
}
