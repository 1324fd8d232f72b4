package frontend

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"unicode"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/internal/platforms"
)

func stageNames(p *Plan, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, p.Stages[i].DisplayName())
	}
	return out
}

func TestStageSelection(t *testing.T) {
	df := `FROM scratch AS base
ENV A=1

FROM base AS build
COPY a /a

FROM scratch AS unrelated
ENV U=1

FROM scratch AS tools
ENV T=1

FROM scratch
COPY --from=build /a /a
COPY --from=3 /b /b
`
	cases := []struct {
		target    string
		order     []string
		steps     int
		deps      map[string][]string // stage -> names of its deps
		targetIdx int
	}{
		{"", []string{"base", "build", "tools", "stage-4"}, 2 + 2 + 2 + 3,
			map[string][]string{"build": {"base"}, "stage-4": {"build", "tools"}}, 4},
		{"build", []string{"base", "build"}, 4, map[string][]string{"build": {"base"}}, 1},
		{"BUILD", []string{"base", "build"}, 4, nil, 1}, // stage names are case-insensitive
		{"unrelated", []string{"unrelated"}, 2, nil, 2},
		{"base", []string{"base"}, 2, nil, 0},
	}
	for _, tc := range cases {
		t.Run("target="+tc.target, func(t *testing.T) {
			p, err := Parse("Dockerfile", []byte(df), Options{Target: tc.target})
			if err != nil {
				t.Fatal(err)
			}
			if got := stageNames(p, p.Order); fmt.Sprint(got) != fmt.Sprint(tc.order) {
				t.Errorf("Order = %v, want %v", got, tc.order)
			}
			if p.Target != tc.targetIdx {
				t.Errorf("Target = %d, want %d", p.Target, tc.targetIdx)
			}
			if len(p.Steps) != tc.steps {
				t.Errorf("%d steps, want %d", len(p.Steps), tc.steps)
			}
			// Steps only belong to the stages built, numbered per stage.
			built := map[int]bool{}
			for _, i := range p.Order {
				built[i] = true
			}
			for i, s := range p.Steps {
				if s.Index != i || !built[s.Stage] {
					t.Errorf("step %d: %+v", i, s)
				}
				if s.Number < 1 || s.Number > s.StageSteps {
					t.Errorf("step %d: number %d of %d", i, s.Number, s.StageSteps)
				}
			}
			for name, want := range tc.deps {
				var st *Stage
				for _, s := range p.Stages {
					if s.DisplayName() == name {
						st = s
					}
				}
				if got := stageNames(p, st.Deps); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("stage %s deps = %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestStepInfo(t *testing.T) {
	df := "FROM scratch AS a\nENV A=1 \\\n    B=2\n# comment\nCOPY x \\\n  /y\nFROM a\nCMD [\"x\"]\n"
	p, err := Parse("Dockerfile", []byte(df), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []event.StepInfo{
		{Index: 0, Stage: 0, StageName: "a", Number: 1, StageSteps: 3, Kind: "FROM", Text: "FROM scratch AS a", StartLine: 1, EndLine: 1},
		{Index: 1, Stage: 0, StageName: "a", Number: 2, StageSteps: 3, Kind: "ENV", Text: "ENV A=1 B=2", StartLine: 2, EndLine: 3, MetadataOnly: true},
		{Index: 2, Stage: 0, StageName: "a", Number: 3, StageSteps: 3, Kind: "COPY", Text: "COPY x /y", StartLine: 5, EndLine: 6},
		{Index: 3, Stage: 1, Number: 1, StageSteps: 2, Kind: "FROM", Text: "FROM a", StartLine: 7, EndLine: 7},
		{Index: 4, Stage: 1, Number: 2, StageSteps: 2, Kind: "CMD", Text: `CMD ["x"]`, StartLine: 8, EndLine: 8, MetadataOnly: true},
	}
	if len(p.Steps) != len(want) {
		t.Fatalf("%d steps, want %d: %+v", len(p.Steps), len(want), p.Steps)
	}
	for i := range want {
		if p.Steps[i] != want[i] {
			t.Errorf("step %d = %+v\nwant    %+v", i, p.Steps[i], want[i])
		}
	}
	if p.Stages[1].BaseStage != 0 {
		t.Errorf("FROM a: BaseStage = %d, want 0", p.Stages[1].BaseStage)
	}
}

func TestPlanErrors(t *testing.T) {
	cases := []struct {
		name, df, target string
		line             int
		want             []string
	}{
		{"unknown target lists the stages", "FROM scratch AS one\nFROM scratch AS two\nFROM scratch\n", "nope", 0,
			[]string{"--target nope", "no stage of that name", "stages: one, two"}},
		{"unknown target, no named stages", "FROM scratch\n", "x", 0,
			[]string{"--target x", "names no stage"}},
		{"cycle between stages", "FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n", "", 3,
			[]string{"Dockerfile:3", "circular dependency", "b -> a -> b"}},
		{"COPY --from itself", "FROM scratch\nFROM scratch AS me\nENV A=1\nCOPY --from=me /x /x\n", "", 4,
			[]string{"Dockerfile:4", "cannot copy from itself", "earlier stage"}},
		{"COPY --from its own index", "FROM scratch\nCOPY --from=0 /x /x\n", "", 2,
			[]string{"Dockerfile:2", "cannot copy from itself"}},
		{"FROM itself", "FROM scratch\n\nFROM self AS self\n", "", 3,
			[]string{"Dockerfile:3", "based on itself"}},
		{"empty FROM", "ARG B\nFROM ${B}\n", "", 2,
			[]string{"Dockerfile:2", "empty base image name"}},
		{"bad FROM platform", "ARG P=linux\nFROM --platform=$P scratch\n", "", 2,
			[]string{"Dockerfile:2", "os/arch"}},
		{"missing argument", "FROM scratch\nUSER\n", "", 2,
			[]string{"Dockerfile:2", "USER"}},
		{"bad check directive", "# check=skip=foo;error=nope\nFROM scratch\n", "", 1,
			[]string{"Dockerfile:1", "check directive"}},
		{"unterminated heredoc is still parsed", "FROM scratch\nCOPY --bogus=1 a b\n", "", 2,
			[]string{"Dockerfile:2", "bogus"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("Dockerfile", []byte(tc.df), Options{Target: tc.target})
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if got := ErrorLine(err); got != tc.line {
				t.Errorf("ErrorLine = %d, want %d (%v)", got, tc.line, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestGlobalArgs: ARGs before FROM with --build-arg, predefined args.
func TestGlobalArgs(t *testing.T) {
	df := "ARG A=1\nARG B=${A}2\nARG C\nFROM scratch AS x\nARG D\n"
	p, err := Parse("Dockerfile", []byte(df), Options{BuildArgs: map[string]string{"A": "9", "C": "c", "Z": "unused", "HTTP_PROXY": "p"}})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"A": "9", "B": "92", "C": "c", "TARGETOS": "linux", "HTTP_PROXY": "p"} {
		if p.GlobalArgs[k] != v {
			t.Errorf("GlobalArgs[%s] = %q, want %q", k, p.GlobalArgs[k], v)
		}
	}
	if fmt.Sprint(p.UnusedBuildArgs) != "[Z]" {
		t.Errorf("UnusedBuildArgs = %v, want [Z]", p.UnusedBuildArgs)
	}
	found := false
	for _, w := range p.Warnings {
		if strings.Contains(w.Message, "Z") && strings.Contains(w.Message, "not consumed") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning about the unused build arg Z: %+v", p.Warnings)
	}
}

// TestBuildChecks: a few of BuildKit's build checks are reported with
// their rule name and line.
func TestBuildChecks(t *testing.T) {
	cases := []struct {
		name, df, rule string
		line           int
	}{
		{"casing", "FROM scratch\nenv A=1\n", "ConsistentInstructionCasing", 2},
		{"legacy ENV", "FROM scratch\nENV A 1\n", "LegacyKeyValueFormat", 2},
		{"JSON args", "FROM scratch\nCMD echo hi\n", "JSONArgsRecommended", 2},
		{"multiple CMD: reported on the ignored one", "FROM scratch\nCMD [\"a\"]\nENV A=1\nCMD [\"b\"]\n", "MultipleInstructionsDisallowed", 2},
		{"multiple ENTRYPOINT", "FROM scratch\nENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\n", "MultipleInstructionsDisallowed", 2},
		{"secret in ARG", "FROM scratch\nARG API_TOKEN\n", "SecretsUsedInArgOrEnv", 2},
		{"relative WORKDIR", "FROM scratch\nWORKDIR rel\n", "WorkdirRelativePath", 2},
		{"duplicate stage", "FROM scratch AS a\nFROM scratch AS b\n", "", 0},
		{"undefined ARG in FROM", "FROM $NOPE\n", "UndefinedArgInFrom", 1},
		{"reserved stage name", "FROM scratch AS scratch\n", "ReservedStageName", 1},
		{"expose proto casing", "FROM scratch\nEXPOSE 80/TCP\n", "ExposeProtoCasing", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := Parse("Dockerfile", []byte(tc.df), Options{})
			if p == nil {
				t.Fatal("nil plan")
			}
			var got []string
			found := false
			for _, w := range p.Warnings {
				got = append(got, fmt.Sprintf("%s@%d", w.Rule, w.Line))
				if w.Rule == tc.rule && w.Line == tc.line {
					found = true
				}
			}
			if tc.rule == "" {
				if len(p.Warnings) != 0 {
					t.Errorf("warnings %v, want none", got)
				}
				return
			}
			if !found {
				t.Errorf("warnings %v, want %s@%d", got, tc.rule, tc.line)
			}
		})
	}
}

func TestParsePlatformAndOutput(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/arm/v7", "linux/arm/v7", true},
		{"linux", "", false},
		{"linux/", "", false},
		{"a/b/c/d", "", false},
	} {
		p, err := platforms.Parse(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePlatform(%q) err = %v", tc.in, err)
			continue
		}
		if tc.ok && platforms.String(p) != tc.want {
			t.Errorf("ParsePlatform(%q) = %s, want %s", tc.in, platforms.String(p), tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want Output
		err  string
	}{
		{"type=oci,dest=/x", Output{Type: "oci", Dest: "/x"}, ""},
		{"type=docker,dest=f.tar", Output{Type: "docker", Dest: "f.tar"}, ""},
		{"type=registry", Output{Type: "registry"}, ""},
		{"type=registry,name=a:1", Output{Type: "registry", Names: []string{"a:1"}}, ""},
		{"type=image,name=b:2,push=true", Output{Type: "registry", Names: []string{"b:2"}}, ""},
		{"type=image,name=b:2", Output{}, "push=true"},
		{"type=oci", Output{}, "dest=PATH"},
		{"dest=/x", Output{}, "missing type="},
		{"type=local,dest=x", Output{}, "unknown type"},
		{"./out", Output{}, "want type=oci"},
		{"type=oci,dest=x,foo=1", Output{}, "unknown key"},
	} {
		o, err := ParseOutput(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseOutput(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(o, tc.want) {
			t.Errorf("ParseOutput(%q) = %+v, %v", tc.in, o, err)
		}
	}
}

// Parse errors found by QA: the right line, a hint that fits the problem,
// and no raw control bytes from a binary file in the message.
func TestPlanErrorsQA(t *testing.T) {
	cases := []struct {
		name, df string
		line     int
		want     []string
		not      []string
	}{
		{"line too long is on its own line", "FROM scratch\nRUN echo " + strings.Repeat("a", 70000) + "\n", 2,
			[]string{"Dockerfile:2", "65535", "\\"}, []string{"write FROM"}},
		{"instruction before FROM gets the FROM hint, not its own form", "RUN echo hi\n", 1,
			[]string{"Dockerfile:1", "FROM"}, []string{"write RUN"}},
		{"binary file", "\x7fELF\x02\x01\x01\x00\x1b[2J\x00\x00 x\n", 1,
			[]string{"Dockerfile:1", "unknown instruction"}, nil},
		{"USER without argument says what to write", "FROM scratch\nUSER\n", 2,
			[]string{"Dockerfile:2", "write USER"}, nil},
		{"WORKDIR without argument says what to write", "FROM scratch\nWORKDIR\n", 2,
			[]string{"Dockerfile:2", "write WORKDIR"}, nil},
		{"HEALTHCHECK bad duration names the flag", "FROM scratch\nHEALTHCHECK --interval=xx CMD true\n", 2,
			[]string{"Dockerfile:2", "--interval", "30s"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("Dockerfile", []byte(tc.df), Options{})
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			msg := err.Error()
			if got := ErrorLine(err); got != tc.line {
				t.Errorf("ErrorLine = %d, want %d (%.300s)", got, tc.line, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %.300q lacks %q", msg, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(msg, w) {
					t.Errorf("error %.300q has %q", msg, w)
				}
			}
			for _, r := range msg {
				if unicode.IsControl(r) || r == unicode.ReplacementChar {
					t.Fatalf("error has control or invalid bytes: %q", msg)
				}
			}
		})
	}
}
