package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A cached step whose layer is still in a plain --cache-from image: the
// plain output, the report and the event say its size and files are not
// known (never 0), where the layer is and its compressed size.
func TestRemoteHitNotZero(t *testing.T) {
	diff := "sha256:" + strings.Repeat("ab", 32)
	remote := StepCached{Step: 1, Key: "k1", ImageID: "sha256:" + strings.Repeat("cd", 32), DiffID: diff,
		Remote: &RemoteLayer{Source: "reg/app:plain", CompressedSize: 2_500_000}}
	known := StepCached{Step: 0, Key: "k0", ImageID: "sha256:" + strings.Repeat("ef", 32), DiffID: diff, Size: 3072, Files: 2}
	plan := PlanReady{Steps: []StepInfo{{Index: 0, Number: 1, StageSteps: 2, Kind: "RUN", Text: "RUN a"}, {Index: 1, Number: 2, StageSteps: 2, Kind: "RUN", Text: "RUN b"}}}

	var plain bytes.Buffer
	p := &PlainPrinter{W: &plain, NoTimes: true}
	for _, ev := range []Event{plan, known, remote} {
		p.Print(ev)
	}
	want := " ---> layer abababababab in reg/app:plain, not downloaded: size and files not known yet (" + HumanSize(2_500_000) + " compressed)\n"
	if !strings.Contains(plain.String(), want) {
		t.Errorf("the plain output does not say %q:\n%s", want, plain.String())
	}
	if strings.Count(plain.String(), "not downloaded") != 1 {
		t.Errorf("the plain output calls a known layer remote:\n%s", plain.String())
	}

	r := &Report{}
	for _, ev := range []Event{plan, known, remote} {
		r.Observe(ev)
	}
	var out bytes.Buffer
	if _, err := r.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Steps []map[string]any }
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Steps) != 2 {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if s := doc.Steps[0]; s["size"] != 3072.0 || s["files"] != 2.0 || s["remote"] != nil {
		t.Errorf("report: the known step is %v", s)
	}
	s := doc.Steps[1]
	for _, f := range []string{"size", "files", "changes"} {
		if _, ok := s[f]; ok {
			t.Errorf("report: the remote step has %s: %v", f, s)
		}
	}
	if rm, _ := s["remote"].(map[string]any); rm["source"] != "reg/app:plain" || rm["compressed_size"] != 2_500_000.0 {
		t.Errorf("report: the remote step's remote is %v", s["remote"])
	}

	b, _ := MarshalEvent(known)
	if !strings.Contains(string(b), `"size":3072,"files":2`) || strings.Contains(string(b), "remote") {
		t.Errorf("a known hit's JSON: %s", b)
	}
}
