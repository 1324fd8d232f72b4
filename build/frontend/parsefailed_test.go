package frontend

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
)

// TestParseFailedEmptyLists: the JSON of a build whose Dockerfile does not
// parse has "steps": [] and "stages": [], not null.
func TestParseFailedEmptyLists(t *testing.T) {
	evs := ParseFailed(nil, errors.New("bad"))
	b, err := event.MarshalEvent(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"steps":[]`, `"stages":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("plan event %s lacks %s", b, want)
		}
	}
}
