package frontend

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

var boundEnv = MapEnv{"A": "aaaa", "B": "b", "E": "", "L": strings.Repeat("l", 300), "D": "$0$0", "S": "/"}

// FuzzExpansionBound: the estimate is never below what the lexer makes of
// a word, with either escape token, quotes processed or not (heredocs).
func FuzzExpansionBound(f *testing.F) {
	for _, w := range []string{"$A", "${A}", "${A:-$B$B}", "${A//?/$L}", "${A///x}", "${A//*/$D$D}", "${L//?/${A//?/$L}}",
		`\$A$A`, "'$A'", `"${A#a}"`, "${A/a/\\$0\\$0}", "${/x/y}", "$$A", "${A:+${L}${L}}", "$0$1$@", "${A%%a*}", "x${S}y",
		"${L//l/$D}", "$"} {
		f.Add(w, false, false)
		f.Add(w, true, true)
	}
	f.Fuzz(func(t *testing.T, word string, backtick, rawQuotes bool) {
		esc := '\\'
		if backtick {
			esc = '`'
		}
		lex := shell.NewLex(esc)
		lex.SkipProcessQuotes = rawQuotes
		b := expansionBound(word, boundEnv)
		if b > 64<<20 {
			return // too large to expand in a test; that is what the bound is for
		}
		res, err := lex.ProcessWordWithMatches(word, boundEnv)
		if err == nil && int64(len(res.Result)) > b {
			t.Fatalf("%q expands to %d bytes, over its bound %d", word, len(res.Result), b)
		}
		words, err := lex.ProcessWords(word, boundEnv)
		n := 0
		for _, w := range words {
			n += len(w)
		}
		if err == nil && int64(n) > b {
			t.Fatalf("%q expands to words of %d bytes, over its bound %d", word, n, b)
		}
	})
}

// A --build-arg is a variable too: over 1 MiB it is refused, naming the flag.
func TestExpansionLimitBuildArg(t *testing.T) {
	_, err := Parse("Dockerfile", []byte("ARG A\nFROM scratch\n"), Options{BuildArgs: map[string]string{"A": strings.Repeat("a", maxExpandedSize+1)}})
	if err == nil || !strings.Contains(err.Error(), "--build-arg A: the value is 1.0 MiB, over strata's 1 MiB limit") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Parse("Dockerfile", []byte("ARG A\nFROM scratch\n"), Options{BuildArgs: map[string]string{"A": strings.Repeat("a", maxExpandedSize)}}); err != nil {
		t.Fatalf("a 1 MiB --build-arg: %v", err)
	}
}

func TestExpansionBoundExamples(t *testing.T) {
	env := MapEnv{"A": "aaaa", "L": strings.Repeat("l", 1000)}
	for _, tc := range []struct {
		word string
		max  int64
	}{
		{"plain", 5},
		{"$A", 2 + 4},                // every byte written, plus the value of each $
		{"${A:-x}$A", 9 + 4 + 4},     // a default counts as text
		{"${A//a/bb}", 4 + 4 + 10*6}, // "${A/", m, (2m+2)·len("/a/bb}")
	} {
		if got := expansionBound(tc.word, env); got > tc.max || got < int64(len(tc.word)) {
			t.Errorf("bound(%q) = %d, want between %d and %d", tc.word, got, len(tc.word), tc.max)
		}
	}
	if got := expansionBound(strings.Repeat("${L//?/", 7)+"$L"+strings.Repeat("}", 7), env); got != satMax {
		t.Errorf("nested substitutions: bound %d, want the saturated %d", got, satMax)
	}
}
