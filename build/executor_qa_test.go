package build

import (
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

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
