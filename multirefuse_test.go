package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The flags a multi-platform build does not take yet are refused naming
// the flag and what works instead (the flag for one platform at a time),
// before the store is opened.
func TestMultiPlatformRefusals(t *testing.T) {
	cases := []struct {
		flag string
		args []string // strata build's flags ("" when only the TUI takes it)
		opts buildOpts
	}{
		{"--report", []string{"--report", "r.json"}, buildOpts{report: "r.json"}},
		{"--trace", []string{"--trace", "t.json"}, buildOpts{trace: "t.json"}},
		{"--ci", []string{"--ci"}, buildOpts{ci: ciOpts{on: true}}},
		{"--cache-to", []string{"--cache-to", "type=local,dest=CACHE"}, buildOpts{cacheTo: []string{"type=local,dest=c"}}},
		{"--step", nil, buildOpts{step: true}},
		{"--break", nil, buildOpts{breaks: []string{"3"}}},
	}
	check := func(t *testing.T, flag, msg string) {
		t.Helper()
		for _, want := range []string{flag + " with 2 platforms is not supported yet", "one platform at a time", "--platform linux/arm64 " + flag} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: the refusal does not say %q: %s", flag, want, msg)
			}
		}
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.flag, "--"), func(t *testing.T) {
			err := c.opts.multiRefuse(2)
			if err == nil {
				t.Fatalf("%s with 2 platforms: not refused", c.flag)
			}
			check(t, c.flag, err.Error())
			if c.args == nil {
				return
			}
			requireRoot(t)
			tmp := t.TempDir()
			ctx, root := filepath.Join(tmp, "ctx"), filepath.Join(tmp, "root")
			if err := os.MkdirAll(ctx, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nENV A=1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"build", "--root", root, "--platform", "linux/amd64,linux/arm64"}
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "CACHE", filepath.Join(tmp, "cache")))
			}
			out, err := strata(t, append(args, ctx)...)
			if err == nil {
				t.Fatalf("strata build %s with 2 platforms: not refused:\n%s", c.flag, out)
			}
			check(t, c.flag, out)
			if _, err := os.Stat(root); err == nil {
				t.Errorf("%s: the refused build created its state folder %s", c.flag, root)
			}
		})
	}
}
