package build

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// COPY's messages about the context never name a host path outside it:
// not what a symlink resolves to, not an entry of a folder outside (a
// wildcard through a link), not the next hop of a chain of links. The
// link's own text is the context's content, and may be shown.
func TestCopyMessagesStayInTheContext(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{
		"hidden-entry": "s",
		"dangling":     "->/nonexistent-host-target",
		"sub/inner":    "i",
	})
	files := map[string]string{
		"l":    "->" + outside,                                 // absolute link out
		"r":    "->" + strings.Repeat("../", 30) + outside[1:], // relative link out
		"dl":   "->/nonexistent-host-target",
		"d2":   "->" + filepath.Join(outside, "dangling"), // out, then on to another host path
		"x/":   "",
		"in/f": "inside",
	}
	hostOnly := []string{"hidden-entry", "inner", "nonexistent-host-target"}
	store := newStore(t)
	for _, df := range []string{
		"COPY l/* /d/", "COPY l/*/inner /d/", "COPY */hidden-entry /d/", "COPY l* /d/", "COPY r/* /d/",
		"COPY l/hidden-entry /d/", "COPY l /d/", "COPY l/ /d/", "COPY r/sub/ /d/", "COPY d2 /d/", "COPY l/dangling /d/",
		"COPY ../x /d/", "COPY /etc/* /d/", "COPY ../* /d/", "COPY x/../../* /d/",
	} {
		t.Run(df, func(t *testing.T) {
			r := build(t, store, "FROM scratch\n"+df+"\n", files, frontend.Options{})
			if r.err == nil {
				return // copied nothing from outside: TestCopyFromContextStaysInside checks what
			}
			msg := r.err.Error()
			if i := strings.Index(msg, "Dockerfile:2: "); i >= 0 {
				msg = msg[i+len("Dockerfile:2: "):] // the context's own path may be named
			}
			// What the Dockerfile line and the context's links say is not
			// a leak; anything else of the host is.
			shown := strings.NewReplacer(df[5:], "ARGS", files["l"][2:], "LINK", files["r"][2:], "LINK", files["d2"][2:], "LINK").Replace(msg)
			shown = strings.ReplaceAll(shown, "/nonexistent-host-target", "LINK") // dl's own text
			if strings.Contains(shown, outside) {
				t.Errorf("the error names the host path %s: %v", outside, r.err)
			}
			for _, n := range hostOnly {
				if strings.Contains(strings.ReplaceAll(shown, "LINK", ""), n) {
					t.Errorf("the error names %q, found outside the context: %v", n, r.err)
				}
			}
			var le *frontend.LineError
			if !errors.As(r.err, &le) || le.Line != 2 {
				t.Errorf("the error is not on line 2: %v", r.err)
			}
			t.Logf("%s: %v", df, msg)
		})
	}
}
