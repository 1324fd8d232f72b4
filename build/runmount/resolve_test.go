package runmount

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/layers"
)

// TestResolveInView: source= follows symlinks with the view's root as "/"
// and is refused when it, or a symlink on its way, climbs above the root,
// or when it does not exist.
func TestResolveInView(t *testing.T) {
	layer := t.TempDir()
	for _, d := range []string{"usr/lib", "data"} {
		if err := os.MkdirAll(filepath.Join(layer, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(layer, "usr/lib/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"abs":     "/usr/lib",     // absolute: from the view's root, not the host's
		"rel":     "usr/lib",      // relative to its dir
		"up":      "../../../etc", // climbs above the root
		"data/up": "../usr",       // stays inside
	} {
		if err := os.Symlink(target, filepath.Join(layer, name)); err != nil {
			t.Fatal(err)
		}
	}
	v := &layers.View{Lowers: []string{layer}}
	for _, c := range []struct{ src, want, err string }{
		{"", "/", ""},
		{"/usr/lib", "/usr/lib", ""},
		{"abs/f", "/usr/lib/f", ""},
		{"rel", "/usr/lib", ""},
		{"data/up/lib", "/usr/lib", ""},
		{"usr/../usr/lib/.", "/usr/lib", ""},
		{"..", "", "leads outside the root"},
		{"up", "", "leads outside the root"},
		{"usr/lib/f/x", "", "is not a directory"},
		{"nothere", "", "not found"},
	} {
		got, err := ResolveInView(v, c.src)
		if c.err == "" {
			if err != nil || got != c.want {
				t.Errorf("source %q: %q, %v; want %q", c.src, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("source %q: %q, %v; want an error saying %q", c.src, got, err, c.err)
		}
		if c.err == "leads outside the root" && !errors.Is(err, errEscapes) {
			t.Errorf("source %q: %v is not errEscapes", c.src, err)
		}
	}
}

func TestEscapesFrom(t *testing.T) {
	for _, c := range []struct {
		dir, p string
		want   bool
	}{
		{"/", "..", true},
		{"/", "a/..", false},
		{"/a", "..", false},
		{"/a", "../..", true},
		{"/a/b", "../../c/..", false},
		{"/a", "./../x/../..", true},
	} {
		if got := escapesFrom(c.dir, strings.Split(c.p, "/")); got != c.want {
			t.Errorf("escapesFrom(%q, %q) = %v, want %v", c.dir, c.p, got, c.want)
		}
	}
}
