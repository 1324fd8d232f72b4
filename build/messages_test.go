package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// Context and Dockerfile paths in messages are shortened in the middle.
func TestLongPathsInMessages(t *testing.T) {
	base := t.TempDir()
	deep := base
	for i := 0; i < 12; i++ { // 12 × 101 bytes: over any message's worth
		deep = filepath.Join(deep, strings.Repeat(string(rune('a'+i)), 100))
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || !strings.Contains(msg, "…") {
			t.Errorf("error %q: want %q and a shortened path", msg, want)
		}
		if len(msg) > 800 { // a few paths of at most 203 bytes each, and the words
			t.Errorf("error is %d bytes long: %s", len(msg), msg)
		}
	}
	t.Run("missing context", func(t *testing.T) {
		_, err := frontend.NewPlan(frontend.Options{ContextDir: filepath.Join(deep, "nope")})
		check(t, err, "does not exist")
	})
	t.Run("no Dockerfile", func(t *testing.T) {
		_, err := frontend.NewPlan(frontend.Options{ContextDir: deep})
		check(t, err, "no Dockerfile in")
	})
	t.Run("-f missing", func(t *testing.T) {
		_, err := frontend.NewPlan(frontend.Options{ContextDir: deep, Dockerfile: filepath.Join(deep, "Dockerfile.nope")})
		check(t, err, "no such file")
	})
	t.Run("COPY of a long missing path in a deep context", func(t *testing.T) {
		store := newStore(t)
		ctxDir := filepath.Join(deep, "ctx")
		if err := os.MkdirAll(ctxDir, 0o755); err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("missing-dir/", 100) + "f"
		if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM scratch\nCOPY "+long+" /x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := buildIn(t, store, frontend.Options{ContextDir: ctxDir}, nil)
		check(t, r.err, "not found in the build context")
	})
	t.Run("a line error", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(deep, "Dockerfile"), []byte("FROM scratch\nCOPPY a b\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := frontend.NewPlan(frontend.Options{ContextDir: deep})
		check(t, err, ":2: ")
		if frontend.ErrorLine(err) != 2 {
			t.Errorf("line %d", frontend.ErrorLine(err))
		}
	})
}
