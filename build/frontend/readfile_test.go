package frontend

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// planIn writes files into a new context (writeTree's notation) and plans
// it; dockerfile, when not "", is the -f value.
func planIn(t *testing.T, files map[string]string, dockerfile string) (*Plan, string, error) {
	t.Helper()
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, files)
	if dockerfile != "" && !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(ctxDir, dockerfile)
	}
	type result struct {
		p   *Plan
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := NewPlan(Options{ContextDir: ctxDir, Dockerfile: dockerfile})
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, ctxDir, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("NewPlan still reading after 20s (a fifo or an endless file)")
		return nil, "", nil
	}
}

// The Dockerfile is read as BuildKit reads it from its local source: links
// resolved as if the folder that holds it were /, a regular file only, at
// most 16 MiB. A Dockerfile that is a symlink to a host file (a cloned
// repository's Dockerfile -> /etc/… or -> ../../x) finds nothing, and the
// message does not say what is there.
func TestDockerfileRead(t *testing.T) {
	outside := t.TempDir()
	hostDF := filepath.Join(outside, "host-Dockerfile")
	if err := os.WriteFile(hostDF, []byte("FROM scratch\nLABEL from=the-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const good = "FROM scratch\nLABEL from=the-context\n"
	refused := []struct {
		name  string
		files map[string]string
		f     string // -f, relative to the context
		want  string
	}{
		{"absolute link to a host file", map[string]string{"Dockerfile": "->" + hostDF}, "",
			"Dockerfile: it is a symlink whose target is not inside the folder that holds it"},
		{"relative link climbing out", map[string]string{"Dockerfile": "->" + strings.Repeat("../", 20) + hostDF[1:]}, "",
			"symlink whose target is not inside the folder that holds it"},
		// BuildKit re-roots an absolute link at the Dockerfile's folder,
		// even one that names a file of the context by its host path.
		{"-f a link out of its folder", map[string]string{"sub/Dockerfile": "->../Dockerfile.real", "Dockerfile.real": good}, "sub/Dockerfile",
			"-f "},
		{"a directory", map[string]string{"Dockerfile/": ""}, "", "it is not a regular file (a directory)"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			p, ctxDir, err := planIn(t, tc.files, tc.f)
			if err == nil {
				t.Fatalf("planned %v (labels %q): want a refusal", p.File, p.Source)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
			if strings.Contains(strings.ReplaceAll(msg, ctxDir, "CTX"), outside) {
				t.Errorf("error names the host path %s: %s", outside, msg)
			}
		})
	}
	t.Run("absolute link into the context", func(t *testing.T) {
		ctxDir := t.TempDir()
		writeTree(t, ctxDir, map[string]string{"real": good, "Dockerfile": "->" + filepath.Join(ctxDir, "real")})
		if _, err := NewPlan(Options{ContextDir: ctxDir}); !errors.Is(err, errLinkOutside) && (err == nil || !strings.Contains(err.Error(), "symlink whose target is not inside")) {
			t.Fatalf("err = %v, want the link refused as BuildKit does (it reads <folder>%s)", err, filepath.Join(ctxDir, "real"))
		}
	})
	t.Run("fifo", func(t *testing.T) {
		ctxDir := t.TempDir()
		if err := syscall.Mkfifo(filepath.Join(ctxDir, "Dockerfile"), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		_, _, err := planIn(t, nil, filepath.Join(ctxDir, "Dockerfile"))
		if err == nil || !strings.Contains(err.Error(), "not a regular file (a fifo)") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		ctxDir := t.TempDir()
		f, err := os.Create(filepath.Join(ctxDir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(1 << 30) // sparse: refused on its size, never read
		f.Close()
		var perr error
		m := measureMem(func() any { _, perr = NewPlan(Options{ContextDir: ctxDir}); return nil })
		if perr == nil || !strings.Contains(perr.Error(), "larger than 16 MiB, the most BuildKit reads") {
			t.Fatalf("err = %v", perr)
		}
		if m.Total > 8*mib {
			t.Errorf("refusing a 1 GiB Dockerfile allocated %d MB", m.Total/mib)
		}
	})
	accepted := []struct {
		name  string
		files map[string]string
		f     string
	}{
		{"plain", map[string]string{"Dockerfile": good}, ""},
		{"relative link inside its folder", map[string]string{"Dockerfile": "->docker/prod", "docker/prod": good}, ""},
		{"link through .. that stays inside", map[string]string{"Dockerfile": "->docker/../docker/prod", "docker/prod": good}, ""},
		{"-f in a subfolder", map[string]string{"sub/df": good}, "sub/df"},
		{"-f a link within its folder", map[string]string{"sub/df": "->real", "sub/real": good}, "sub/df"},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := planIn(t, tc.files, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if string(p.Source) != good {
				t.Fatalf("read %q", p.Source)
			}
		})
	}
	// -f names a file anywhere (docker sends it as its own local source).
	t.Run("-f outside the context", func(t *testing.T) {
		p, _, err := planIn(t, map[string]string{"a": "1"}, hostDF)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(p.Source), "the-host") {
			t.Fatalf("read %q", p.Source)
		}
	})
}

// The ignore files are read the same way; one that cannot be read as
// BuildKit reads it is no ignore file (BuildKit: "a missing ignore file is
// not an error"), and what a link points at never reaches a message (a
// bad pattern used to quote a line of the host file).
func TestIgnoreFileRead(t *testing.T) {
	outside := t.TempDir()
	hostFile := filepath.Join(outside, "shadow")
	if err := os.WriteFile(hostFile, []byte("root:$6$secret-hash[:19000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{".dockerignore -> host file", map[string]string{".dockerignore": "->" + hostFile}},
		{"Dockerfile.dockerignore -> host file", map[string]string{"Dockerfile.dockerignore": "->" + hostFile}},
		{".dockerignore a directory", map[string]string{".dockerignore/": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.files["Dockerfile"] = "FROM scratch\n"
			p, _, err := planIn(t, tc.files, "")
			if err != nil {
				if strings.Contains(err.Error(), "secret-hash") {
					t.Fatalf("the host file's content is in the error: %v", err)
				}
				t.Fatal(err)
			}
			if p.Ignore.File != "" || len(p.Ignore.Patterns) != 0 {
				t.Fatalf("ignore file %q with %q, want none", p.Ignore.File, p.Ignore.Patterns)
			}
		})
	}
	t.Run("link inside the context", func(t *testing.T) {
		p, _, err := planIn(t, map[string]string{"Dockerfile": "FROM scratch\n", ".dockerignore": "->ign/list", "ign/list": "*.log\n"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Ignore.Patterns) != 1 || p.Ignore.Patterns[0] != "*.log" {
			t.Fatalf("patterns %q", p.Ignore.Patterns)
		}
	})
	t.Run("too large", func(t *testing.T) {
		ctxDir := t.TempDir()
		writeTree(t, ctxDir, map[string]string{"Dockerfile": "FROM scratch\n"})
		if err := os.WriteFile(filepath.Join(ctxDir, ".dockerignore"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Truncate(filepath.Join(ctxDir, ".dockerignore"), maxDockerfileSize+1)
		if _, err := NewPlan(Options{ContextDir: ctxDir}); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
			t.Fatalf("err = %v", err)
		}
	})
}
