package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMistypedCommand: a first argument that is no directory but close to
// a command's name is a mistyped command, and strata says which it means.
func TestMistypedCommand(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "ctx"), 0o755)
	for args, want := range map[string]string{
		"biuld ctx": `unknown command "biuld" for "strata": did you mean build?`,
		"imagse":    `unknown command "imagse" for "strata": did you mean images?`,
		"insepct x": `did you mean inspect?`,
	} {
		cmd := exec.Command(strataBin, append(strings.Fields(args), "--root", filepath.Join(dir, "root"))...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("strata %s: %v\n%s\nwant %q", args, err, out, want)
		}
	}
}

// TestVersionFlag: strata --version says what strata version says.
func TestVersionFlag(t *testing.T) {
	v := mustStrata(t, "version")
	if got := mustStrata(t, "--version"); got != v || !strings.HasPrefix(got, "strata ") {
		t.Errorf("strata --version = %q, strata version = %q", got, v)
	}
}

// TestBuildErrorPrintedOnce: a failed build's error is printed once, on
// stderr, as docker's classic builder does; stdout has the progress.
func TestBuildErrorPrintedOnce(t *testing.T) {
	dir := t.TempDir()
	ctx := filepath.Join(dir, "ctx")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY missing /x\n"), 0o644)
	cmd := exec.Command(strataBin, "build", "--root", filepath.Join(dir, "root"), "--progress", "plain", ctx)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("the build succeeded")
	}
	if strings.Contains(stdout.String(), "not found") || strings.Count(stderr.String(), "not found") != 1 {
		t.Errorf("the error must be on stderr once:\n--- stdout\n%s--- stderr\n%s", stdout.String(), stderr.String())
	}
}

// TestStepIDsAreImages: the last step's id is the built image's, and every
// step's id is an image strata run and FROM accept, never pulled.
func TestStepIDsAreImages(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	out := mustStrata(t, "example", "--root", root, "--dir", filepath.Join(tmp, "ctx"), "--progress", "plain")
	ids := regexp.MustCompile(`(?m)^ ---> ([0-9a-f]{12})$`).FindAllStringSubmatch(out, -1)
	built := regexp.MustCompile(`Successfully built ([0-9a-f]{12})`).FindStringSubmatch(out)
	if len(ids) != 10 || built == nil {
		t.Fatalf("want 10 step ids and the built id:\n%s", out)
	}
	if last := ids[len(ids)-1][1]; last != built[1] {
		t.Errorf("the last step printed %s, the build %s", last, built[1])
	}
	// Step 6 (RUN … > /srv/data/motd) as an image: run it, build on it.
	run := ids[5][1]
	if got := mustStrata(t, "run", "--root", root, "--rm", run, "cat", "/srv/data/motd"); !strings.Contains(got, "hello from strata") {
		t.Errorf("strata run %s cat /srv/data/motd: %q", run, got)
	}
	ctx := filepath.Join(tmp, "ctx2")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM "+run+"\nRUN cat /srv/data/motd\n"), 0o644)
	if got := mustStrata(t, "build", "--root", root, "--progress", "plain", ctx); !strings.Contains(got, "hello from strata") {
		t.Errorf("FROM %s:\n%s", run, got)
	}
	if got, err := strata(t, "inspect", "--root", root, "--plain", run); err != nil || !strings.Contains(got, "sha256:"+run) {
		t.Errorf("strata inspect %s: %v\n%s", run, err, got)
	}
}
