package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
)

// TestCacheTabSaysWhyAHitIsOne: a COPY --from that stays cached though
// its stage was rebuilt (it is keyed on the files it copies) says so in
// the Cache tab, so the stage's rebuild stays visible.
func TestCacheTabSaysWhyAHitIsOne(t *testing.T) {
	f := newFixture()
	b := newBuildState()
	now := time.Unix(0, 0)
	b.apply(f.plan, now)
	why := "stage build was rebuilt; the files copied from it are unchanged"
	b.apply(event.StepCached{Step: 2, Key: "sha256:k", ImageID: "sha256:i", Reason: why}, now)
	got := strings.Join(cacheView(newCommon(true), b, 2, 120), "\n")
	if !strings.Contains(got, why) {
		t.Errorf("Cache tab of a hit with a reason does not show it:\n%s", got)
	}
}
