package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// strataIn runs strata in dir (where .dive-ci and .strata-ci.yaml are
// read) and returns its output and exit status.
func strataIn(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(strataBin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	return "", -1
}

// TestSpaceCIExitCodes: --ci exits 0 when the rules pass and 1 when one
// fails (flags, a .dive-ci file, JSON), for inspect and for build.
func TestSpaceCIExitCodes(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	ctx := busyboxContext(t, "RUN head -c 500000 /dev/urandom > /big && echo hi > /small\nRUN rm /big\n")
	root := filepath.Join(t.TempDir(), "root")
	work := t.TempDir() // no rule files here
	out, code := strataIn(t, work, "build", "--root", root, "-t", "waste:1", "--report", filepath.Join(work, "report.json"), "--ci", "--lowestEfficiency", "0.9", ctx)
	if code != 1 || !strings.Contains(out, "FAIL lowestEfficiency: efficiency") || !strings.Contains(out, "line 4 deletes /big, 500kB added by line 3") {
		t.Fatalf("build --ci on a wasteful image: exit %d\n%s", code, out)
	}
	// --report carries the same analysis.
	var rep struct {
		Space struct {
			Image struct {
				Wasted  int64 `json:"wasted_bytes"`
				Content int64 `json:"content_bytes"`
			} `json:"image"`
			Wastes []struct {
				Path   string `json:"path"`
				Line   int    `json:"line"`
				ByLine int    `json:"by_line"`
			} `json:"wastes"`
		} `json:"space"`
	}
	if b, err := os.ReadFile(filepath.Join(work, "report.json")); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report: %v", err)
	}
	if rep.Space.Image.Wasted != 500000 || len(rep.Space.Wastes) != 1 || rep.Space.Wastes[0].Path != "/big" || rep.Space.Wastes[0].Line != 3 || rep.Space.Wastes[0].ByLine != 4 {
		t.Errorf("report's space: %+v", rep.Space)
	}
	inspect := func(dir string, args ...string) (string, int) {
		return strataIn(t, dir, append(append([]string{"inspect", "--root", root, "--ci"}, args...), "waste:1")...)
	}
	if out, code := inspect(work, "--lowestEfficiency", "0.1", "--highestUserWastedPercent", "disabled"); code != 0 || !strings.Contains(out, "PASS lowestEfficiency") || !strings.HasSuffix(out, "result: PASS\n") {
		t.Errorf("inspect --ci with loose rules: exit %d\n%s", code, out)
	}
	if out, code := inspect(work, "--maxLayerSize", "100kB"); code != 1 || !strings.Contains(out, "FAIL maxLayerSize: largest layer") {
		t.Errorf("inspect --ci --maxLayerSize 100kB: exit %d\n%s", code, out)
	}
	// dive's file, as dive reads it, from the current directory.
	dive := t.TempDir()
	os.WriteFile(filepath.Join(dive, ".dive-ci"), []byte("rules:\n  lowestEfficiency: 0.1\n  highestWastedBytes: 1MB\n  highestUserWastedPercent: 0.99\n"), 0o644)
	if out, code := inspect(dive); code != 0 || !strings.Contains(out, "rules from defaults (as dive's), .dive-ci") || !strings.Contains(out, "PASS highestWastedBytes") {
		t.Errorf("inspect --ci with a passing .dive-ci: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(dive, ".dive-ci"), []byte("rules:\n  lowestEfficiency: 0.1\n  highestWastedBytes: 100kB\n  highestUserWastedPercent: 0.99\n"), 0o644)
	if out, code := inspect(dive); code != 1 || !strings.Contains(out, "FAIL highestWastedBytes: 500kB wasted (500000 bytes), highest allowed 100kB") {
		t.Errorf("inspect --ci with a failing .dive-ci: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(dive, ".dive-ci"), []byte("rules:\n  lowestEficiency: 0.1\n"), 0o644)
	if out, code := inspect(dive); code != 1 || !strings.Contains(out, `.dive-ci: unknown rule "lowestEficiency"`) {
		t.Errorf("inspect --ci with a misspelt .dive-ci: exit %d\n%s", code, out)
	}
	out, code = inspect(work, "--ci-format", "json")
	var res struct {
		Pass  bool `json:"pass"`
		Rules []struct {
			Rule string `json:"rule"`
			Pass bool   `json:"pass"`
		} `json:"rules"`
		Top []struct {
			Path  string `json:"path"`
			Bytes int64  `json:"bytes"`
		} `json:"top_wastes"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.Pass || len(res.Top) != 1 || res.Top[0].Path != "/big" || res.Top[0].Bytes != 500000 {
		t.Errorf("inspect --ci --ci-format json: exit %d, %v, %+v\n%s", code, err, res, out)
	}
	if out, code := strataIn(t, work, "inspect", "--root", root, "--lowestEfficiency", "0.5", "waste:1"); code != 1 || !strings.Contains(out, "--lowestEfficiency needs --ci") {
		t.Errorf("a rule without --ci: exit %d\n%s", code, out)
	}
	checkClean(t, root)
}

// TestTUISpace builds a wasteful Dockerfile in the TUI (tmux) as a user
// would, opens the Space tab (9): the analysis names the deleted file, its
// lines and the fix; enter opens it in the step that wrote it, where the
// Files tab marks it; q leaves with nothing of the build left.
func TestTUISpace(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	ctx := busyboxContext(t, "RUN head -c 500000 /dev/urandom > /big && echo hi > /small\nRUN rm /big\n")
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	exitFile := filepath.Join(tmp, "exit")
	s := newTmux(t, 120, 36, strataBin+" --root "+root+" -t spacetui:1 "+ctx+"; echo $? > "+exitFile+"; sleep 60")
	s.waitFor("build complete", 60*time.Second)
	s.keys("9")
	scr := s.waitFor("1 wastes, the most bytes first", 20*time.Second)
	for _, want := range []string{"9 Space", "500.0 kB  deleted     line 3 → 4      /big", "░", "line 4 deletes /big, 500kB added by line 3", "fix: delete it in the same RUN that creates it"} {
		if !strings.Contains(scr, want) {
			t.Errorf("Space tab lacks %q:\n%s", want, scr)
		}
	}
	s.keys("Enter")
	scr = s.waitFor("big ✗ 500.0 kB wasted: deleted later", 10*time.Second)
	if !strings.Contains(scr, "[2/3] RUN head") && !strings.Contains(scr, "RUN head -c 500000") {
		t.Errorf("enter did not open the step that wrote /big:\n%s", scr)
	}
	s.keys("q")
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("strata exited %s", code)
	}
	checkClean(t, root)
}
