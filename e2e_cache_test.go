package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCacheRebuildAndPrune: the example rebuilt unchanged comes wholly
// from cache (same image id, no container run); changing one copied file
// rebuilds from its COPY on and says which file; the report says the
// same; prune --all frees the cache and the tagged image survives.
func TestCacheRebuildAndPrune(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	ctx := filepath.Join(tmp, "ctx")
	mustStrata(t, "example", "--root", root, "--dir", ctx, "-t", "ex:1")
	id1 := strings.TrimSpace(mustStrata(t, "images", "--root", root, "-q"))

	report := filepath.Join(tmp, "report.json")
	out := mustStrata(t, "build", "--root", root, "-t", "ex:2", "--report", report, ctx)
	if n := strings.Count(out, " ---> Using cache"); n != 10 {
		t.Errorf("%d steps from cache, want all 10:\n%s", n, out)
	}
	if strings.Contains(out, "Running in") {
		t.Errorf("a container ran on a no-change rebuild:\n%s", out)
	}
	ids := strings.Fields(mustStrata(t, "images", "--root", root, "-q"))
	if len(ids) != 2 || ids[0] != ids[1] || !strings.HasPrefix(id1, ids[0][:12]) {
		t.Errorf("image ids %v after a no-change rebuild, want the same id twice (first %s)", ids, id1)
	}
	var rep struct {
		Cached   int     `json:"cached"`
		Built    int     `json:"built"`
		HitRatio float64 `json:"cache_hit_ratio"`
		Steps    []struct {
			Instruction string `json:"instruction"`
			Line        int    `json:"line"`
			Status      string `json:"status"`
			Reason      string `json:"reason"`
			Layer       string `json:"layer"`
			Files       int    `json:"files"`
		} `json:"steps"`
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Cached != 10 || rep.Built != 0 || rep.HitRatio != 1 || len(rep.Steps) != 10 {
		t.Errorf("report: cached %d built %d ratio %v steps %d", rep.Cached, rep.Built, rep.HitRatio, len(rep.Steps))
	}

	// One file changes.
	if err := os.WriteFile(filepath.Join(ctx, "app", "server.sh"), []byte("echo changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustStrata(t, "build", "--root", root, "-t", "ex:3", "--report", report, ctx)
	for _, want := range []string{
		"Step 5/10 : COPY app/ ./\n ---> cache miss: file app/server.sh changed",
		"Step 6/10 : RUN mkdir -p /srv/data && echo \"$GREETING\" > /srv/data/motd && chmod 0644 /srv/data/motd\n ---> cache miss: an earlier step was rebuilt",
		" ---> Running in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, " ---> Using cache"); n != 4 {
		t.Errorf("%d steps from cache, want 4 (FROM, ADD, ENV, WORKDIR):\n%s", n, out)
	}
	b, _ = os.ReadFile(report)
	rep.Steps = nil
	json.Unmarshal(b, &rep)
	if len(rep.Steps) != 10 || rep.Steps[4].Status != "built" || rep.Steps[4].Reason != "file app/server.sh changed" || rep.Steps[4].Line != 7 || rep.Steps[4].Layer == "" {
		t.Errorf("report step 5: %+v", rep.Steps)
	}
	checkClean(t, root)

	out = mustStrata(t, "prune", "--root", root, "--all")
	if !strings.Contains(out, "Total reclaimed space:") || strings.Contains(out, "Deleted 0 cache entries") {
		t.Errorf("prune --all: %s", out)
	}
	mustStrata(t, "run", "--root", root, "--rm", "ex:1", "cat", "/srv/data/motd")
	out = mustStrata(t, "build", "--root", root, ctx)
	if strings.Contains(out, "Using cache") {
		t.Errorf("cache used after prune --all:\n%s", out)
	}
	checkClean(t, root)
}
