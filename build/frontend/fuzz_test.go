package frontend

import "testing"

var fuzzSeeds = []string{
	"FROM scratch\nENV A=1\n",
	"ARG B=scratch\nFROM ${B} AS one\nCOPY --from=one a b /c/\n",
	"# escape=`\nFROM scratch\nENV W=C:\\dir `\n  X=1\n",
	"# syntax=docker/dockerfile:1\n# check=skip=all\nFROM scratch\nCOPY <<EOF /f\nhello $A\nEOF\n",
	"FROM scratch\nRUN <<EOT bash\nset -e\necho hi\nEOT\n",
	"FROM scratch\nCOPY <<one <<two /d/\n1\none\n2\ntwo\n",
	"FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n",
	"FROM scratch\nHEALTHCHECK --interval=5s CMD [\"true\"]\nEXPOSE 80-90/udp\nONBUILD RUN x\n",
	"FROM --platform=$BUILDPLATFORM scratch\nARG TARGETARCH\nWORKDIR /$TARGETARCH\n",
	"FROM scratch\nENV ${A:-${B:+x}}=1\nLABEL \"a\\\"b\"=c\n",
	"from scratch\nenv a b\n",
	"FROM scratch\\\n\n\nENV A\n",
	"",
	"\x00\xff",
}

// FuzzParse: the front end must never panic, and a plan it accepts is
// self-consistent.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "")
	}
	f.Add("FROM scratch AS x\nFROM x\n", "x")
	f.Fuzz(func(t *testing.T, src, target string) {
		p, err := Parse("Dockerfile", []byte(src), Options{Target: target, BuildArgs: map[string]string{"A": "1"}})
		if err != nil {
			_ = ErrorLine(err)
			return
		}
		if p.Target < 0 || p.Target >= len(p.Stages) {
			t.Fatalf("Target %d of %d stages", p.Target, len(p.Stages))
		}
		seen := map[int]bool{}
		for _, si := range p.Order {
			for _, d := range p.Stages[si].Deps {
				if d < len(p.Stages) && !seen[d] && d != si {
					t.Fatalf("stage %d built before its dependency %d (order %v)", si, d, p.Order)
				}
			}
			seen[si] = true
		}
		for i, s := range p.Steps {
			if s.Index != i {
				t.Fatalf("step %d has index %d", i, s.Index)
			}
		}
	})
}
