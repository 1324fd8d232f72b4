package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// TestArgAfterEnvOfTheSameName: an ARG declared after an ENV of the same
// name gives RUN and later expansions the ARG's value (BuildKit's
// dispatchArg adds it to the build state's env, after the ENV), while the
// image config keeps the ENV's; an ENV after an ARG still wins. docker
// build with --build-arg Y=cli: `ENV Y=env-first`, `ARG Y=arg-second`,
// `RUN echo $Y` prints cli (arg-second without the flag), `LABEL y=$Y` is
// cli, and the image's Env has Y=env-first.
func TestArgAfterEnvOfTheSameName(t *testing.T) {
	store := newStore(t)
	dir := t.TempDir()
	df := "FROM scratch\nENV Y=env-first\nARG Y=arg-second\nRUN echo $Y\nLABEL y=$Y\nENV W=$Y\nARG Z=arg\nENV Z=env-after\nRUN echo\n"
	writeTree(t, dir, map[string]string{"Dockerfile": df})
	envOf := func(fr *fakeRunner, i int) map[string]string {
		m := map[string]string{}
		for _, kv := range fr.reqs[i].Env {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		args map[string]string
		want string
	}{{nil, "arg-second"}, {map[string]string{"Y": "cli", "Z": "cli"}, "cli"}} {
		fr := &fakeRunner{}
		r := buildIn(t, store, frontend.Options{ContextDir: dir, BuildArgs: c.args, NoCache: true}, fr).mustOK(t)
		if len(fr.reqs) != 2 {
			t.Fatalf("%d RUNs, want 2", len(fr.reqs))
		}
		if got := envOf(fr, 0)["Y"]; got != c.want {
			t.Errorf("args %v: first RUN sees Y=%s, want %s", c.args, got, c.want)
		}
		if got := envOf(fr, 1); got["Y"] != c.want || got["Z"] != "env-after" {
			t.Errorf("args %v: second RUN sees Y=%s Z=%s, want %s and env-after", c.args, got["Y"], got["Z"], c.want)
		}
		cfg := r.cfg().Config
		if cfg.Labels["y"] != c.want {
			t.Errorf("args %v: label y=%s, want %s", c.args, cfg.Labels["y"], c.want)
		}
		if want := []string{"Y=env-first", "W=" + c.want, "Z=env-after"}; !slices.Equal(cfg.Env[1:], want) {
			t.Errorf("args %v: image Env %v, want %v", c.args, cfg.Env, want)
		}
	}
	// From the cache, the later steps still see the ARG's value.
	cli := map[string]string{"Y": "cli", "Z": "cli"}
	buildIn(t, store, frontend.Options{ContextDir: dir, BuildArgs: cli}, &fakeRunner{}).mustOK(t)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df+"RUN echo again\n"), 0o644)
	fr := &fakeRunner{}
	buildIn(t, store, frontend.Options{ContextDir: dir, BuildArgs: cli}, fr).mustOK(t)
	if len(fr.reqs) != 1 || envOf(fr, 0)["Y"] != "cli" {
		t.Errorf("a RUN after cached steps: %d runs, env %v; want Y=cli", len(fr.reqs), fr.reqs)
	}
}
