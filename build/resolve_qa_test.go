package build

import (
	"strings"
	"testing"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// A base image from the local store that is for another platform than
// the build's --platform is used, with BuildKit's InvalidBaseImagePlatform
// warning on the FROM line (as when it is pulled).
func TestLocalBaseOtherPlatformWarns(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	build(t, store, "FROM scratch\nLABEL a=b\n", nil, frontend.Options{Tags: []string{"armbase:1"}, Platform: "linux/arm64"}).mustOK(t)
	r := build(t, store, "# base\nFROM armbase:1\nLABEL c=d\n", nil, frontend.Options{Platform: "linux/amd64"}).mustOK(t)
	var got []event.Warning
	for _, ev := range r.events {
		if w, ok := ev.(event.Warning); ok && w.Rule == "InvalidBaseImagePlatform" {
			got = append(got, w)
		}
	}
	if len(got) != 1 || got[0].Line != 2 || !strings.Contains(got[0].Message, "armbase:1") || !strings.Contains(got[0].Message, "linux/arm64") || !strings.Contains(got[0].Message, "linux/amd64") {
		t.Fatalf("warnings %+v, want one InvalidBaseImagePlatform on line 2 naming armbase:1, linux/arm64 and linux/amd64", got)
	}
	// Same platform: no warning.
	r = build(t, store, "FROM armbase:1\nLABEL e=f\n", nil, frontend.Options{Platform: "linux/arm64"}).mustOK(t)
	for _, ev := range r.events {
		if w, ok := ev.(event.Warning); ok && w.Rule == "InvalidBaseImagePlatform" {
			t.Errorf("warning for a base of the build's platform: %+v", w)
		}
	}
}
