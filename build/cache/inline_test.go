package cache

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// inlineDoc is a document of n entries, each with a config of hist
// history entries, and a record per step.
func inlineDoc(n, hist int) *Doc {
	doc := &Doc{Version: 1, Mode: "min"}
	var steps []RecordStep
	for i := range n {
		cfg := &v1.ConfigFile{}
		for j := range hist {
			cfg.History = append(cfg.History, v1.History{CreatedBy: fmt.Sprintf("RUN echo \"step %d line %d\" # buildkit", i, j)})
		}
		doc.Entries = append(doc.Entries, Entry{Key: fmt.Sprintf("sha256:%064x", i), Config: cfg})
		steps = append(steps, RecordStep{Inputs: Inputs{Text: strings.Repeat("x", 4000)}, Key: fmt.Sprintf("sha256:%064x", i)})
	}
	doc.Records = []StageRecord{{Dockerfile: "Dockerfile", Stage: "0", Steps: steps}}
	return doc
}

// TestFitInline: an inline cache over the limit drops the records, then
// the last steps' entries, says so, and always fits (as written in the
// manifest, quotes escaped); a small one is written whole.
func TestFitInline(t *testing.T) {
	small := inlineDoc(3, 3)
	b, warn, err := FitInline(small, MaxInline)
	if err != nil || warn != "" {
		t.Fatalf("small doc: warn %q, err %v", warn, err)
	}
	var back Doc
	if json.Unmarshal(b, &back) != nil || len(back.Entries) != 3 || len(back.Records) != 1 {
		t.Errorf("small doc not written whole: %d entries, %d records", len(back.Entries), len(back.Records))
	}

	const max = 64 << 10
	recs := inlineDoc(20, 2) // the records (20 x 4 kB) are most of it
	b, warn, err = FitInline(recs, max)
	if err != nil || annotationSize(b) > max || !strings.Contains(warn, "stage records that explain misses were left out") {
		t.Fatalf("records over the limit: size %d (max %d), warn %q, err %v", annotationSize(b), max, warn, err)
	}
	back = Doc{}
	json.Unmarshal(b, &back)
	if len(back.Entries) != 20 || len(back.Records) != 0 {
		t.Errorf("want all 20 entries and no records, got %d and %d", len(back.Entries), len(back.Records))
	}

	big := inlineDoc(200, 40)
	b, warn, err = FitInline(big, max)
	if err != nil || annotationSize(b) > max {
		t.Fatalf("entries over the limit: size %d (max %d), err %v", annotationSize(b), max, err)
	}
	back = Doc{}
	json.Unmarshal(b, &back)
	n := len(back.Entries)
	if n == 0 || n == 200 || !strings.Contains(warn, fmt.Sprintf("only the first %d of 200 steps' entries", n)) {
		t.Errorf("%d entries kept, warn %q", n, warn)
	}
	for i, ent := range back.Entries {
		if ent.Key != big.Entries[i].Key {
			t.Fatalf("entry %d is %s, want the first steps' in order", i, ent.Key)
		}
	}
	// One more entry would not have fitted.
	more := *big
	more.Records, more.Entries = nil, big.Entries[:n+1]
	if mb, _ := json.Marshal(&more); annotationSize(mb) <= max {
		t.Errorf("%d entries kept, but %d fit", n, n+1)
	}

	if _, _, err := FitInline(inlineDoc(2, 2000), 1<<10); err == nil || !strings.Contains(err.Error(), "not even the first step's entry fits") {
		t.Errorf("nothing fits: err %v", err)
	}
}
