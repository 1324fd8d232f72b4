package build

import (
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// TestDuplicateStageName: as in BuildKit, a warning (DuplicateStageName);
// the name then means the latest stage defined with it.
func TestDuplicateStageName(t *testing.T) {
	store := newStore(t)
	df := "FROM scratch AS a\nCOPY one /f\nFROM scratch AS a\nCOPY two /f\nFROM scratch\nCOPY --from=a /f /got\n"
	r := build(t, store, df, map[string]string{"one": "first", "two": "second"}, frontend.Options{}).mustOK(t)
	warned := false
	for _, ev := range r.events {
		if w, ok := ev.(event.Warning); ok && w.Rule == "DuplicateStageName" && w.Line == 3 {
			warned = true
		}
	}
	if !warned {
		t.Error("no DuplicateStageName warning on line 3")
	}
	checkStep(t, r, len(r.plan.Steps)-1, map[string]entry{"/got": fileE("second")})
	// --target names the latest one too.
	p, err := frontend.Parse("Dockerfile", []byte(df), frontend.Options{Target: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Target != 1 {
		t.Errorf("--target a is stage %d, want 1 (the later one)", p.Target)
	}
}
