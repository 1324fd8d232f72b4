package snapshot

import (
	"strings"
	"testing"
)

// TestBuildRunLineLeavesOutFailuresAndLooks: after a failed step's shell
// where the prefilled failing command is run again and fails, then a fix,
// the RUN line is the fix alone: a failed command chained with && would
// make the kept step fail too. Commands that only look are left out; a cd
// stays when a kept command follows it.
func TestBuildRunLineLeavesOutFailuresAndLooks(t *testing.T) {
	ok := func(l string) Typed { return Typed{Line: l, Known: true} }
	failed := func(l string, st int) Typed { return Typed{Line: l, Status: st, Known: true} }
	for _, tc := range []struct {
		name string
		cmds []Typed
		want string
	}{
		{"failed prefill, then the fix", []Typed{failed("mkdir /x/y", 1), ok("mkdir -p /x && echo fixed"), ok("exit")},
			"RUN mkdir -p /x && echo fixed"},
		{"looks left out", []Typed{ok("ls"), ok("id"), ok("clear"), ok("cat /etc/passwd"), ok("pwd"), ok("echo hi"),
			ok("ls -l / | grep x"), ok("history"), ok("apk add curl"), ok("ls /usr")},
			"RUN apk add curl"},
		{"echo to a file is kept", []Typed{ok("echo hi > /f"), ok("printf x >> /g")},
			"RUN echo hi > /f && \\\n    printf x >> /g"},
		{"cd before a kept command stays, a trailing cd goes", []Typed{ok("cd /src"), ok("make"), ok("cd /")},
			"RUN cd /src && \\\n    make"},
		{"a failed cd goes", []Typed{failed("cd /nope", 2), ok("touch a")}, "RUN touch a"},
		{"env with a command is kept", []Typed{ok("env"), ok("env X=1 make")}, "RUN env X=1 make"},
		{"status unknown (no prompt hook): kept", []Typed{{Line: "make"}}, "RUN make"},
		{"nothing left", []Typed{failed("false", 1), ok("ls")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := BuildRunLine(tc.cmds)
			if got != tc.want {
				t.Errorf("BuildRunLine = %q, want %q", got, tc.want)
			}
		})
	}
	// What was left out is shown, with why.
	cmds := []Typed{failed("mkdir /x/y", 1), ok("ls"), ok("mkdir -p /x && echo fixed"), ok("exit")}
	_, why := BuildRunLine(cmds)
	shown := strings.Join(annotate(cmds, why), "\n")
	want := "mkdir /x/y    # left out of the RUN line: exit 1: it failed\n" +
		"ls    # left out of the RUN line: it only reads, changes nothing\n" +
		"mkdir -p /x && echo fixed"
	if shown != want {
		t.Errorf("commands shown:\n%s\nwant:\n%s", shown, want)
	}
}

// TestParseStatusLog reads what the prompt hooks log in ash and in bash;
// a prompt after an empty line repeats an entry, the first status counts.
func TestParseStatusLog(t *testing.T) {
	ash := "0\t\n1\t   0 false\n1\t   0 false\n1\t   1 ls /nonexist\n0\t   3 mkdir -p /x && echo fixed\n"
	bash := "0\t\n1\t    1  false\n2\t    2  ls /nonexist\n0\t    4  mkdir -p /x && echo fixed\n"
	for name, log := range map[string]string{"ash": ash, "bash": bash} {
		m := parseStatusLog([]byte(log))
		var fixed statusEntry
		for _, e := range m {
			if e.line == "mkdir -p /x && echo fixed" {
				fixed = e
			}
		}
		if fixed.line == "" || fixed.status != 0 {
			t.Errorf("%s: the fix's entry: %+v in %+v", name, fixed, m)
		}
		if e := m[map[string]int{"ash": 0, "bash": 1}[name]]; e.line != "false" || e.status != 1 {
			t.Errorf("%s: false's entry: %+v", name, e)
		}
	}
}
