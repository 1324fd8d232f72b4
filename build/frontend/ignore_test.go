package frontend

import "testing"

func TestIgnoreUnit(t *testing.T) {
	ig, err := newIgnore(".dockerignore", []string{"*.md", "!README.md", "build", "!build/keep"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		excl bool
	}{
		{"a.md", true}, {"README.md", false}, {"docs/a.md", false},
		{"build", true}, {"build/x", true}, {"build/keep", false}, {"x", false},
	} {
		if got := ig.Excluded(tc.path); got != tc.excl {
			t.Errorf("Excluded(%q) = %v, want %v", tc.path, got, tc.excl)
		}
	}
	if !ig.MayMatchInside("build") {
		t.Error("MayMatchInside(build) = false; !build/keep re-includes below it")
	}
	if _, err := newIgnore("f", []string{"[a-"}); err == nil {
		t.Error("bad pattern accepted")
	}
	var nilIg *Ignore
	if nilIg.Excluded("x") || nilIg.MayMatchInside("x") {
		t.Error("nil Ignore excludes")
	}
}
