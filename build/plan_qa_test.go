package build

import (
	"strings"
	"testing"
	"unicode"

	"github.com/strata-build/strata/build/frontend"
)

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
			_, err := frontend.Parse("Dockerfile", []byte(tc.df), frontend.Options{})
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			msg := err.Error()
			if got := frontend.ErrorLine(err); got != tc.line {
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
