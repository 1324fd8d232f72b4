package frontend

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/strata-build/strata/internal/testutil"
)

// Memory of planning, measured by testutil.MeasureMem (its doc says what
// its two measures, Total and Peak, are and where each is used).
func measureMem(f func() any) testutil.MemUse { return testutil.MeasureMem(f) }

func dockerfileOf(size int, first string, line func(i int) string) []byte {
	var b bytes.Buffer
	b.WriteString(first)
	for i := 0; b.Len() < size; i++ {
		b.WriteString(line(i))
	}
	return b.Bytes()
}

func buildkitParse(src []byte) any {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return err
	}
	stages, meta, _ := instructions.Parse(res.AST, nil)
	return []any{stages, meta}
}

const mib = testutil.MiB

// A 10 MB Dockerfile of long RUN lines (as in the report: BuildKit's parser
// used a few MB, strata passed 3 GB, each step keeping its own copy of the
// file). Planning allocates under 100 MB in all.
func TestPlanMemoryLongLines(t *testing.T) {
	src := dockerfileOf(10*mib, "FROM scratch\n", func(int) string { return "RUN echo " + strings.Repeat("x", 60000) + "\n" })
	bk := measureMem(func() any { return buildkitParse(src) })
	var p *Plan
	st := measureMem(func() any {
		var err error
		p, err = Parse("Dockerfile", src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
	t.Logf("%d MB Dockerfile, %d steps: strata allocates %d MB (peak heap %d MB), BuildKit's parser+instructions %d MB: ratio %.1f",
		len(src)/mib, len(p.Steps), st.Total/mib, st.Peak/mib, bk.Total/mib, float64(st.Total)/float64(max(bk.Total, 1)))
	if st.Total > 100*mib {
		t.Fatalf("planning a %d MB Dockerfile allocated %d MB, want under 100 MB", len(src)/mib, st.Total/mib)
	}
	if got := p.Steps[1].Text; len(got) != 60000+len("RUN echo ") {
		t.Fatalf("step text is %d bytes, want the line", len(got))
	}
}

// The report's 2,000 LABEL lines (698 MB before): a few MB now.
func TestPlanMemoryManyLabels(t *testing.T) {
	src := dockerfileOf(0, "FROM scratch\n", nil)
	var b bytes.Buffer
	b.Write(src)
	for i := range 2000 {
		fmt.Fprintf(&b, "LABEL k%d=v%d\n", i, i)
	}
	src = b.Bytes()
	bk := measureMem(func() any { return buildkitParse(src) })
	st := measureMem(func() any {
		p, err := Parse("Dockerfile", src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
	t.Logf("2,000 LABEL lines: strata allocates %d KB, BuildKit %d KB: ratio %.1f", st.Total>>10, bk.Total>>10, float64(st.Total)/float64(max(bk.Total, 1)))
	if st.Total > 20*mib {
		t.Fatalf("planning 2,000 LABEL lines allocated %d MB, want under 20 MB", st.Total/mib)
	}
}

// Many short instructions (2 MB: 100,000 to 350,000 of them). BuildKit's
// own parser holds about 60 times the file here (570 MB for 10 MB of
// LABELs), so the bound is relative: strata's peak heap stays within twice
// BuildKit's (parser and instructions) on the same input, and every shape
// plans in time linear in its size (within 5 times BuildKit's time, plus a
// second: the quadratic code took 14-24 s on 1 MB of CMDs or FROMs).
func TestPlanMemoryManyInstructions(t *testing.T) {
	if testing.Short() {
		t.Skip("plans several 2 MB Dockerfiles (-short)")
	}
	shapes := []struct {
		name, first string
		line        func(i int) string
	}{
		{"LABEL", "FROM scratch\n", func(i int) string { return fmt.Sprintf("LABEL k%d=v%d\n", i, i) }},
		{"CMD", "FROM scratch\n", func(int) string { return "CMD x\n" }},
		{"FROM chain", "FROM scratch AS s0\n", func(i int) string { return fmt.Sprintf("FROM s%d AS s%d\n", i, i+1) }},
		// ~80 KB of global ARGs, then FROMs naming an undeclared ARG
		{"global ARG + FROM", "", func(i int) string {
			if i < 8000 {
				return fmt.Sprintf("ARG a%d\n", i)
			}
			return "FROM ${u:-scratch}\n"
		}},
	}
	for _, sh := range shapes {
		for _, size := range []int{mib / 4, 2 * mib} {
			src := dockerfileOf(size, sh.first, sh.line)
			t0 := time.Now()
			bk := measureMem(func() any { return buildkitParse(src) })
			bkTime := time.Since(t0)
			t0 = time.Now()
			var steps int
			st := measureMem(func() any {
				p, err := Parse("Dockerfile", src, Options{})
				if err != nil {
					t.Fatalf("%s: %v", sh.name, err)
				}
				steps = len(p.Steps)
				return p
			})
			stTime := time.Since(t0)
			t.Logf("%s, %.2f MB, %d steps: peak heap strata %d MB / BuildKit %d MB (ratio %.2f); time %v / %v",
				sh.name, float64(size)/mib, steps, st.Peak/mib, bk.Peak/mib, float64(st.Peak)/float64(max(bk.Peak, 1)), stTime.Round(time.Millisecond), bkTime.Round(time.Millisecond))
			if st.Peak > 2*bk.Peak+20*mib {
				t.Errorf("%s, %d KB: planning peaked at %d MB of heap, BuildKit's parser at %d MB: want at most twice", sh.name, size>>10, st.Peak/mib, bk.Peak/mib)
			}
			if stTime > 5*bkTime+time.Second {
				t.Errorf("%s, %d KB: planning took %v, BuildKit's parser %v: something is not linear", sh.name, size>>10, stTime, bkTime)
			}
		}
	}
}

// A rule broken on every line keeps its first maxWarningsPerRule warnings
// and one that counts the rest.
func TestWarningsPerRuleCapped(t *testing.T) {
	src := "FROM scratch\n" + strings.Repeat("CMD x\n", 1500)
	p, err := Parse("Dockerfile", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var summaries []string
	for _, w := range p.Warnings {
		count[w.Rule]++
		if strings.Contains(w.Message, "more") && strings.Contains(w.Message, "warnings not shown") {
			summaries = append(summaries, w.Message)
		}
	}
	if count["JSONArgsRecommended"] != maxWarningsPerRule+1 || count["MultipleInstructionsDisallowed"] != maxWarningsPerRule+1 {
		t.Errorf("warnings per rule: %v, want %d each (with the summary)", count, maxWarningsPerRule+1)
	}
	want := []string{
		"500 more JSONArgsRecommended warnings not shown (strata keeps the first 1000 of each rule)",
		"499 more MultipleInstructionsDisallowed warnings not shown (strata keeps the first 1000 of each rule)",
	}
	if fmt.Sprint(summaries) != fmt.Sprint(want) {
		t.Errorf("summaries %q, want %q", summaries, want)
	}
}
