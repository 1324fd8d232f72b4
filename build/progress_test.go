package build

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/frontend"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestUpdateFlagOff fails while -update is on, so a run that rewrote the
// goldens never passes as a test run.
func TestUpdateFlagOff(t *testing.T) {
	if *update {
		t.Fatal("-update is on: golden files were rewritten; check the diff and run again without -update")
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./build -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

var (
	reDigest = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	reShort  = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	reTime   = regexp.MustCompile(`"time":"[^"]*"`)
	reDur    = regexp.MustCompile(`"duration_ns":[0-9]+`)
	rePhase  = regexp.MustCompile(`"(start|end)_ns":[0-9]+`)
)

func normalise(b []byte, ctxDir string) []byte {
	s := strings.ReplaceAll(string(b), ctxDir, "CTX")
	s = reDigest.ReplaceAllString(s, "sha256:<digest>")
	s = reShort.ReplaceAllString(s, "<id>")
	s = reTime.ReplaceAllString(s, `"time":"<time>"`)
	s = reDur.ReplaceAllString(s, `"duration_ns":0`)
	s = rePhase.ReplaceAllString(s, `"${1}_ns":0`)
	return []byte(s)
}

const progressDockerfile = `FROM scratch
ENV A=1
COPY a b /files/
WORKDIR /files
CMD echo $A
`

func TestProgressGolden(t *testing.T) {
	store := newStore(t)
	r := build(t, store, progressDockerfile, map[string]string{"a": "aaaa", "b": "bb"}, frontend.Options{Tags: []string{"demo:1"}}).mustOK(t)
	var plain, js bytes.Buffer
	pp := &event.PlainPrinter{W: &plain, NoTimes: true}
	jp := &event.JSONPrinter{W: &js}
	for _, ev := range r.events {
		pp.Print(ev)
		jp.Print(ev)
	}
	golden(t, "progress/plain.golden", normalise(plain.Bytes(), r.ctxDir))
	golden(t, "progress/json.golden", normalise(js.Bytes(), r.ctxDir))
	// Every JSON line is an object with a type.
	for _, l := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["type"] == nil {
			t.Errorf("bad json line %q: %v", l, err)
		}
	}
}

func TestProgressFailureGolden(t *testing.T) {
	store := newStore(t)
	r := build(t, store, "FROM scratch\nENV A=1\nCOPY missing /x\n", nil, frontend.Options{})
	if r.err == nil {
		t.Fatal("build succeeded")
	}
	var plain, js bytes.Buffer
	pp := &event.PlainPrinter{W: &plain, NoTimes: true}
	jp := &event.JSONPrinter{W: &js}
	for _, ev := range r.events {
		pp.Print(ev)
		jp.Print(ev)
	}
	golden(t, "progress/plain-fail.golden", normalise(plain.Bytes(), r.ctxDir))
	golden(t, "progress/json-fail.golden", normalise(js.Bytes(), r.ctxDir))
}

// TestPlainPrinterEvents covers events a FROM scratch build does not make.
func TestPlainPrinterEvents(t *testing.T) {
	var b bytes.Buffer
	p := &event.PlainPrinter{W: &b, NoTimes: true}
	steps := []event.StepInfo{{Index: 0, Kind: "FROM", Text: "FROM x"}, {Index: 1, Kind: "RUN", Text: "RUN make"}}
	for _, ev := range []event.Event{
		event.PlanReady{Steps: steps},
		event.Warning{Rule: "R", Message: "m", Line: 3},
		event.Warning{Message: "no rule"},
		event.StepStarted{Step: 1},
		event.StepStarted{Step: 1, Container: "0123456789abcdef"},
		event.StepLog{Step: 1, Stream: "stdout", Line: "out"},
		event.StepLog{Step: 1, Stream: "info", Line: "note"},
		event.StepCached{Step: 1, ImageID: "sha256:abcdefabcdef0000"},
		event.StepFailed{Step: 1, Error: "RUN make: exit code 2", Last: []string{"l1", "l2"}},
		event.BuildDone{ImageID: "sha256:0123456789ab", Layers: 2, Size: 1_500_000, Built: 1, Cached: 1, Tags: []string{"t:1"}, Outputs: []string{"oci:/o"}},
	} {
		p.Print(ev)
	}
	want := `WARN: R: m (line 3)
WARN: Warning: no rule
Step 2/2 : RUN make
 ---> Running in 0123456789ab
out
 ---> note
 ---> Using cache
 ---> abcdefabcdef
Successfully built 0123456789ab (2 layers, 1.5MB, 1 step built, 1 cached)
Successfully tagged t:1
Exported to oci:/o
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestHumanSizeAndPrinters(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 2048: "2.05kB", 50_000_000: "50MB", 3_210_000_000: "3.21GB"} {
		if got := event.HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %s, want %s", n, got, want)
		}
	}
	for _, m := range []string{"plain", "auto", "tty", "", "json"} {
		if _, err := event.NewPrinter(m, &bytes.Buffer{}); err != nil {
			t.Errorf("NewPrinter(%q): %v", m, err)
		}
	}
	// rawjson was json under another name; the command line refuses it
	// (cmd_build.go), and so does the printer.
	if _, err := event.NewPrinter("rawjson", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "plain or json") {
		t.Errorf("NewPrinter(rawjson) err = %v, want a refusal naming json", err)
	}
	if _, err := event.NewPrinter("fancy", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "plain or json") {
		t.Errorf("NewPrinter(fancy) err = %v", err)
	}
	b, err := event.MarshalEvent(event.BuildDone{Error: "boom", Line: 2, Duration: time.Second})
	if err != nil || !strings.HasPrefix(string(b), `{"type":"build_done",`) || !strings.Contains(string(b), `"line":2`) {
		t.Errorf("MarshalEvent = %s, %v", b, err)
	}
	_ = errors.New
}
