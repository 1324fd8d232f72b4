package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTUIResultKept: a TUI build without -t is named after its context,
// and when the TUI closes, the terminal keeps what strata build prints
// last: the image id (the TUI header's), its name.
func TestTUIResultKept(t *testing.T) {
	requireRoot(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	ctx := filepath.Join(tmp, "MyApp")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY a /a\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "a"), []byte("A"), 0o644)
	s := newTmux(t, 120, 36, strataBin+" --root "+root+" "+ctx+"; sleep 60")
	scr := s.waitFor("build complete", 60*time.Second)
	m := regexp.MustCompile(`✓ sha256:([0-9a-f]{12})`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no image id in the header:\n%s", scr)
	}
	s.keys("q")
	scr = s.waitFor("Successfully built", 15*time.Second)
	for _, want := range []string{"Successfully built " + m[1], "Successfully tagged myapp:latest", "named myapp:latest after the build context"} {
		if !strings.Contains(scr, want) {
			t.Errorf("after the TUI closed, the terminal lacks %q:\n%s", want, scr)
		}
	}
	if out := mustStrata(t, "images", "--root", root); !strings.Contains(out, "myapp") {
		t.Errorf("strata images lacks myapp:\n%s", out)
	}
}
