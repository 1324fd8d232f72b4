package tui

import (
	"strings"
	"testing"

	"github.com/strata-build/strata/layers"
)

// A step whose layer is a 3.1 kB tar holding 18 bytes of file content:
// each figure says which measure it is, and the Cache tab shows both.
func TestSizesAreNamed(t *testing.T) {
	r := &stepRec{status: statusBuilt, size: 3072, files: 1, diffID: digest("l"), imageID: digest("i"),
		stats: layers.ChangeStats{Added: 1, Bytes: 18}}
	if got := changeSummary(r); got != "1 added, 18 B of file content" {
		t.Errorf("changeSummary %q, want the content bytes, named", got)
	}
	if got := layerSizes(r); got != "3.1 kB layer (uncompressed tar) · 18 B of file content" {
		t.Errorf("layerSizes %q", got)
	}
	f := newFixture()
	m := newTestModel(t, f.be, 120, 40, f.events()...)
	r1 := m.b.step(1)
	r1.size, r1.stats.Bytes = 51_200_000, 457_900 // many tiny files
	out := cleanScreen(strings.Join(cacheView(m.c, m.b, 1, 100), "\n"))
	if !strings.Contains(out, "51.2 MB layer (uncompressed tar) · 457.9 kB of file content") {
		t.Errorf("the Cache tab does not name both measures:\n%s", out)
	}
}
