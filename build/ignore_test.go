package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// TestDockerignore: which files `COPY . /ctx/` puts into the layer for a
// given .dockerignore (moby/patternmatcher rules, as docker build).
func TestDockerignore(t *testing.T) {
	store := newStore(t)
	const df = "FROM scratch\nCOPY . /ctx/\n"
	ctx := map[string]string{
		"Dockerfile":          df,
		"README.md":           "readme",
		"a.md":                "a",
		"x.txt":               "x",
		"docs/b.md":           "b",
		"docs/keep.md":        "keep",
		"docs/deep/c.md":      "c",
		"build/out.bin":       "bin",
		"build/keep/k.txt":    "k",
		"node_modules/m/i.js": "js",
		"tmp/t":               "t",
	}
	cases := []struct {
		name   string
		ignore string
		want   []string // regular files under /ctx (besides the ignore file itself when kept)
	}{
		{"no ignore file", "", []string{"Dockerfile", "README.md", "a.md", "x.txt", "docs/b.md", "docs/keep.md", "docs/deep/c.md", "build/out.bin", "build/keep/k.txt", "node_modules/m/i.js", "tmp/t"}},
		{"*.md with a negation: top level only", "*.md\n!README.md\n",
			[]string{".dockerignore", "Dockerfile", "README.md", "x.txt", "docs/b.md", "docs/keep.md", "docs/deep/c.md", "build/out.bin", "build/keep/k.txt", "node_modules/m/i.js", "tmp/t"}},
		{"** matches at any depth, later negation wins", "**/*.md\n!docs/keep.md\n",
			[]string{".dockerignore", "Dockerfile", "x.txt", "docs/keep.md", "build/out.bin", "build/keep/k.txt", "node_modules/m/i.js", "tmp/t"}},
		{"directories, with and without slash", "node_modules\nbuild/\n/tmp\n",
			[]string{".dockerignore", "Dockerfile", "README.md", "a.md", "x.txt", "docs/b.md", "docs/keep.md", "docs/deep/c.md"}},
		{"negation re-includes inside an excluded directory", "build\n!build/keep/k.txt\n",
			[]string{".dockerignore", "Dockerfile", "README.md", "a.md", "x.txt", "docs/b.md", "docs/keep.md", "docs/deep/c.md", "build/keep/k.txt", "node_modules/m/i.js", "tmp/t"}},
		{"comments, blank lines and ./ prefixes", "# comment\n\n./x.txt\ndocs/*/c.md\n",
			[]string{".dockerignore", "Dockerfile", "README.md", "a.md", "docs/b.md", "docs/keep.md", "build/out.bin", "build/keep/k.txt", "node_modules/m/i.js", "tmp/t"}},
		{"ignoring everything but one dir", "*\n!docs\n",
			[]string{"docs/b.md", "docs/keep.md", "docs/deep/c.md"}},
		{"the ignore file and Dockerfile can ignore themselves", ".dockerignore\nDockerfile\ntmp\nnode_modules\nbuild\ndocs\n",
			[]string{"README.md", "a.md", "x.txt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range ctx {
				files[k] = v
			}
			if tc.ignore != "" {
				files[".dockerignore"] = tc.ignore
			}
			r := build(t, store, df, files, frontend.Options{})
			if r.err != nil {
				t.Fatal(r.err)
			}
			want := map[string]entry{}
			for _, f := range tc.want {
				want["/ctx/"+f] = fileE(files[f])
			}
			checkStep(t, r, 1, want)
		})
	}
}

// TestDockerignorePerDockerfile: <Dockerfile>.dockerignore next to the
// Dockerfile named with -f takes precedence over the context's
// .dockerignore (BuildKit).
func TestDockerignorePerDockerfile(t *testing.T) {
	store := newStore(t)
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"a": "a", "b": "b",
		".dockerignore":                   "a\n",
		"sub/app.Dockerfile":              "FROM scratch\nCOPY . /ctx/\n",
		"sub/app.Dockerfile.dockerignore": "b\nsub\n.dockerignore\n",
	})
	r := buildIn(t, store, frontend.Options{ContextDir: ctxDir, Dockerfile: filepath.Join(ctxDir, "sub/app.Dockerfile")}, nil).mustOK(t)
	if !strings.HasSuffix(r.plan.Ignore.File, "app.Dockerfile.dockerignore") {
		t.Errorf("Ignore.File = %q, want the per-Dockerfile one", r.plan.Ignore.File)
	}
	checkStep(t, r, 1, map[string]entry{"/ctx/a": fileE("a")})

	// Without it, the context's .dockerignore applies.
	os.Remove(filepath.Join(ctxDir, "sub/app.Dockerfile.dockerignore"))
	r = buildIn(t, store, frontend.Options{ContextDir: ctxDir, Dockerfile: filepath.Join(ctxDir, "sub/app.Dockerfile")}, nil).mustOK(t)
	checkStep(t, r, 1, map[string]entry{"/ctx/b": fileE("b"), "/ctx/.dockerignore": fileE("a\n"), "/ctx/sub/app.Dockerfile": fileE("FROM scratch\nCOPY . /ctx/\n")})
}

// TestDockerignoreExplicitSource: naming an ignored file is an error that
// says why.
func TestDockerignoreExplicitSource(t *testing.T) {
	store := newStore(t)
	r := build(t, store, "FROM scratch\nCOPY secret.env /x\n", map[string]string{"secret.env": "s", ".dockerignore": "*.env\n"}, frontend.Options{})
	if r.err == nil || frontend.ErrorLine(r.err) != 2 || !strings.Contains(r.err.Error(), "excluded by .dockerignore") {
		t.Errorf("err = %v, want Dockerfile:2 ... excluded by .dockerignore", r.err)
	}
	// A wildcard silently skips ignored files.
	r = build(t, store, "FROM scratch\nCOPY *.env *.txt /x/\n", map[string]string{"secret.env": "s", "a.txt": "a", ".dockerignore": "*.env\n"}, frontend.Options{}).mustOK(t)
	checkStep(t, r, 1, map[string]entry{"/x/a.txt": fileE("a")})
}
