package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
)

// A hit whose layer is still in a plain --cache-from image says where the
// layer is and that its size and files are not known yet: the Steps
// column says remote, the step's size line and summary say so, never
// "no changes" or 0 B.
func TestRemoteClassicHit(t *testing.T) {
	f := newFixture()
	m := newTestModel(t, f.be, 140, 40, f.events()...)
	h, _ := v1.NewHash(digest("remote-layer"))
	rl := &event.RemoteLayer{Source: "reg/app:plain", CompressedSize: 2_500_000}
	settle(t, m, func() tea.Msg {
		return eventsMsg{evs: []event.Event{event.StepCached{Step: 1, Key: "k", ImageID: digest("img"), DiffID: h.String(),
			Remote: rl, Snapshot: &event.Snapshot{DiffID: h, Layers: []v1.Hash{h}}}}}
	})
	r := m.b.step(1)
	want := "layer in reg/app:plain, not downloaded: size and files not known yet (" + event.HumanSize(2_500_000) + " compressed)"
	for _, got := range []string{layerSizes(r), changeSummary(r)} {
		if !strings.HasPrefix(got, want) {
			t.Errorf("got %q, want %q…", got, want)
		}
	}
	scr := cleanScreen(m.View().Content)
	row := ""
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, "[2/6] RUN") && row == "" { // the Steps pane's, above the tabs
			row = l
		}
	}
	if !strings.Contains(row, "remote") || strings.Contains(row, "no changes") || strings.Contains(row, " 0 B") {
		t.Errorf("the Steps row of the remote hit: %q", row)
	}
}
