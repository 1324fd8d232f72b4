package main

// Command-line checks from a QA pass: bad flag values are refused before
// anything is built, naming the flag; run's -e and -w mean what docker's do.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/assets"
)

// busyboxContext writes a FROM scratch + ADD rootfs.tar context.
func busyboxContext(t *testing.T, extra string) string {
	t.Helper()
	ctx := filepath.Join(t.TempDir(), "ctx")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nADD rootfs.tar /\n" + extra
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// Output and secret errors are found before the build: the error names
// the flag, nothing is built or tagged.
func TestCLIBuildBadValuesBeforeBuild(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	ctx := busyboxContext(t, "RUN echo hi > /hi\n")
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"oci dest is a file", []string{"-t", "x", "-o", "type=oci,dest=" + file}, "dest=" + file},
		{"docker dest is a dir", []string{"-t", "x", "-o", "type=docker,dest=" + tmp}, "is a directory"},
		{"registry without a name", []string{"-o", "type=oci,dest=" + filepath.Join(tmp, "o"), "-o", "type=registry"}, "-t REGISTRY"},
		{"registry bad name", []string{"-o", "type=registry,name=Bad/Name"}, "Bad/Name"},
		{"registry with dest", []string{"-t", "127.0.0.1:1/x", "-o", "type=registry,dest=x"}, "dest"},
		{"secret file missing", []string{"-t", "x", "--secret", "id=s,src=" + filepath.Join(tmp, "nope")}, "--secret"},
		{"progress rawjson", []string{"-t", "x", "--progress", "rawjson"}, "use --progress json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			args := append([]string{"build", "--root", root, "--progress", "plain"}, tc.args...)
			out, err := strata(t, append(args, ctx)...)
			if err == nil {
				t.Fatalf("build succeeded:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("error lacks %q:\n%s", tc.want, out)
			}
			if strings.Contains(out, "Step 1/") {
				t.Errorf("the build ran before the bad value was found:\n%s", out)
			}
			if imgs, _ := strata(t, "images", "-q", "--root", root); strings.TrimSpace(imgs) != "" {
				t.Errorf("images stored after a refused build: %s", imgs)
			}
		})
	}
	// A docker tarball into a folder that does not exist yet: made, as --report does.
	root := filepath.Join(t.TempDir(), "root")
	dest := filepath.Join(tmp, "new", "dir", "x.tar")
	mustStrata(t, "build", "--root", root, "--progress", "plain", "-t", "x", "-o", "type=docker,dest="+dest, ctx)
	if fi, err := os.Stat(dest); err != nil || fi.Size() == 0 {
		t.Errorf("docker tarball %s: %v", dest, err)
	}
}

// strata run -e VAR takes VAR from strata's environment (left out when
// unset), -e =x and a relative -w are refused, as with docker run.
func TestCLIRunEnvAndWorkdir(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	ctx := busyboxContext(t, "")
	root := filepath.Join(t.TempDir(), "root")
	mustStrata(t, "build", "--root", root, "--progress", "plain", "-t", "bb", ctx)

	cmd := exec.Command(strataBin, "run", "--root", root, "-e", "QA_FROM_HOST", "-e", "QA_UNSET", "-e", "QA_SET=1", "bb", "env")
	cmd.Env = append(os.Environ(), "QA_FROM_HOST=hostvalue")
	os.Unsetenv("QA_UNSET")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	env := "\n" + string(out)
	for _, want := range []string{"\nQA_FROM_HOST=hostvalue\n", "\nQA_SET=1\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %q:%s", strings.TrimSpace(want), env)
		}
	}
	if strings.Contains(env, "QA_UNSET") {
		t.Errorf("-e QA_UNSET (unset here) reached the container:%s", env)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-e", "=x"}, "-e"},
		{[]string{"-w", "relative"}, "-w"},
	} {
		out, err := strata(t, append(append([]string{"run", "--root", root}, tc.args...), "bb", "true")...)
		if err == nil || !strings.Contains(out, tc.want) || !strings.Contains(out, tc.args[1]) {
			t.Errorf("run %v: err=%v, output %q; want an error naming %s and %q", tc.args, err, out, tc.want, tc.args[1])
		}
	}
	checkClean(t, root)
}
