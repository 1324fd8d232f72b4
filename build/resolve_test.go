package build

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

// TestRegistryFromCopyAndPush: FROM and COPY --from pull through the
// default resolver (progress and a summary on the step that asked),
// -o type=registry pushes every tag with the image id as config digest,
// and with the registry gone the pulled images serve offline unless
// --pull.
func TestRegistryFromCopyAndPush(t *testing.T) {
	needRoot(t)
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, ref := range []string{"base:1", "other:1"} {
		img, err := random.Image(2048, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(mustRef(t, host+"/"+ref), img); err != nil {
			t.Fatal(err)
		}
	}
	store := newStore(t)
	df := "FROM " + host + "/base:1\nCOPY --from=" + host + "/other:1 / /other/\n"
	r := build(t, store, df, nil, frontend.Options{Tags: []string{host + "/out:1", host + "/out:2"}, Outputs: []frontend.Output{{Type: "registry"}}}).mustOK(t)

	progress := map[int]bool{}
	pulled := map[int]string{}
	var pushed []string
	for _, ev := range r.events {
		switch ev := ev.(type) {
		case event.StepProgress:
			if strings.HasPrefix(ev.What, "pull sha256:") && ev.Total > 0 && ev.Done == ev.Total {
				progress[ev.Step] = true
			}
		case event.StepLog:
			if strings.HasPrefix(ev.Line, "pulled ") {
				pulled[ev.Step] = ev.Line
			}
			if strings.HasPrefix(ev.Line, "pushed ") {
				pushed = append(pushed, ev.Line)
			}
		}
	}
	if !progress[0] || !progress[1] {
		t.Errorf("progress events for steps %v, want FROM (0) and COPY --from (1)", progress)
	}
	if !strings.HasPrefix(pulled[0], "pulled "+host+"/base:1 (sha256:") || !strings.HasPrefix(pulled[1], "pulled "+host+"/other:1 (sha256:") {
		t.Errorf("pull summaries: %v", pulled)
	}
	if len(pushed) != 2 {
		t.Errorf("pushed lines: %q", pushed)
	}
	for _, tag := range []string{"out:1", "out:2"} {
		img, err := remote.Image(mustRef(t, host+"/"+tag))
		if err != nil {
			t.Fatalf("%s not pushed: %v", tag, err)
		}
		if id, _ := img.ConfigName(); id != r.res.ImageID {
			t.Errorf("%s config %s, want the image id %s", tag, id, r.res.ImageID)
		}
		if ls, _ := img.Layers(); len(ls) != 2 {
			t.Errorf("%s has %d layers, want 2", tag, len(ls))
		}
	}

	// type=registry needs a tag.
	bad := build(t, store, df, nil, frontend.Options{Outputs: []frontend.Output{{Type: "registry"}}})
	if bad.err == nil || !strings.Contains(bad.err.Error(), "--output type=registry needs a name to push to: add -t") {
		t.Errorf("type=registry without -t: %v", bad.err)
	}

	// Offline: the pulled names serve the build; --pull cannot.
	srv.Close()
	build(t, store, df+"ENV OFFLINE=1\n", nil, frontend.Options{}).mustOK(t)
	off := build(t, store, df, nil, frontend.Options{Pull: true})
	if off.err == nil || !strings.Contains(off.err.Error(), "Dockerfile:1") || !strings.Contains(off.err.Error(), "--pull: cannot check "+host+"/base:1") {
		t.Errorf("--pull offline: %v", off.err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

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
