package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestJobsPlainOutput: strata build runs two independent stages at once
// and the plain output still keeps each step's lines together (its header,
// its output, its result); --jobs -1 is refused before any build.
func TestJobsPlainOutput(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	ctx := busyboxContext(t, "FROM scratch AS other\nCOPY --from=0 / /\n"+
		"RUN echo b1 && sleep 1 && echo b2\n"+
		"FROM scratch\nCOPY --from=0 / /\nRUN echo a1 && sleep 1 && echo a2\nCOPY --from=other /etc/passwd /p\n")
	root := filepath.Join(t.TempDir(), "root")
	out := mustStrata(t, "build", "--root", root, "--progress", "plain", "--jobs", "2", ctx)
	// Each RUN's two lines follow its own header, with no other step's
	// header or output between them.
	for _, p := range []string{"a", "b"} {
		re := regexp.MustCompile(`(?m)^Step \d+/\d+ : RUN echo ` + p + `1 && sleep 1 && echo ` + p + `2\n( ---> .*\n)*` + p + `1\n` + p + `2\n`)
		if !re.MatchString(out) {
			t.Errorf("the RUN of stage %s is not together in the plain output:\n%s", p, out)
		}
	}
	if n := strings.Count(out, "Successfully built"); n != 1 {
		t.Errorf("%d 'Successfully built' lines:\n%s", n, out)
	}

	bad, err := strata(t, "build", "--root", root, "--progress", "plain", "--jobs", "-1", ctx)
	if err == nil || !strings.Contains(bad, "--jobs -1") || strings.Contains(bad, "Step 1/") {
		t.Errorf("--jobs -1: err %v, output:\n%s\nwant a refusal naming --jobs before any step", err, bad)
	}
}
