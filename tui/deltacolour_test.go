package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestPrevBuildDeltasColoured: in the Step tab's and the Cache tab's
// comparison with the previous build, a slower, bigger step shows its
// magnitudes red, a faster, smaller one green; the Cache tab says when a
// cache hit was lost (red) or gained (green).
func TestPrevBuildDeltasColoured(t *testing.T) {
	f := newFixture()
	worse := newTestModel(t, f.be, 120, 40, append(f.events(), f.rebuild()...)...)
	f2 := newFixture()
	better := newTestModel(t, f2.be, 120, 40, append(f2.rebuild(), f2.events()...)...)
	for _, tc := range []struct {
		name  string
		m     *model
		style func(*styles) string
		want  []string
	}{
		{"slower, bigger", worse, nil, []string{"+1.2s", "+340.0 kB"}},
		{"faster, smaller", better, nil, []string{"-1.2s", "-340.0 kB"}},
	} {
		st := &tc.m.c.st
		paint := st.deleted
		if strings.HasPrefix(tc.want[0], "-") {
			paint = st.added
		}
		for view, lines := range map[string][]string{
			"Step tab":  prevLines(tc.m.c, tc.m.b, 1, 78),
			"Cache tab": cacheView(tc.m.c, tc.m.b, 1, 78),
		} {
			raw := strings.Join(lines, "\n")
			if !strings.Contains(ansi.Strip(raw), "against the previous build") {
				t.Errorf("%s: the %s has no comparison with the previous build:\n%s", tc.name, view, ansi.Strip(raw))
			}
			for _, d := range tc.want {
				if !strings.Contains(raw, paint.Render(d)) {
					t.Errorf("%s: the %s's %q is not coloured (red when worse, green when better): %q", tc.name, view, d, raw)
				}
			}
		}
	}
	// the cache decision against the previous build: FROM was built, now a hit
	raw := strings.Join(cacheView(worse.c, worse.b, 0, 78), "\n")
	if !strings.Contains(raw, worse.c.st.added.Render("built in 1.2s → from cache")) {
		t.Errorf("a cache hit gained is not green: %q", raw)
	}
	raw = strings.Join(cacheView(better.c, better.b, 0, 78), "\n")
	if !strings.Contains(raw, better.c.st.deleted.Render("from cache → built in 1.2s")) {
		t.Errorf("a cache hit lost is not red: %q", raw)
	}
	requireGolden(t, "pane-cache-prev-78", strings.Join(cacheView(worse.c, worse.b, 1, 78), "\n"))
}
