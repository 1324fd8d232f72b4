package frontend

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-build/strata/internal/bytesize"
)

// Variable expansion ($VAR, ${VAR:-word}, ${VAR//pattern/replacement}) is
// BuildKit's shell lexer, which has no bound: eleven lines of
// `ARG aN=$aM$aM$aM$aM$aM$aM$aM$aM` double a value three times per line
// and reach gigabytes. strata bounds it in two steps, both before anything
// large is allocated:
//
//  1. expansionBound estimates, from the word and the values of the
//     variables it names, the most the lexer can produce. A word whose
//     bound is over maxExpansionEstimate is refused without expanding it:
//     a single word with a thousand references to a 1 MiB variable never
//     reaches the lexer.
//  2. Otherwise the word is expanded and refused when the result is over
//     maxExpandedSize. Every stored value (ARG, ENV, --build-arg) is held
//     to that limit, so the next word's bound stays small too.
//  3. What expansions add to a build, all together, is at most
//     maxExpansionTotal: many lines that each reference a large value are
//     stopped too.
const (
	// maxExpandedSize is the largest a word or variable may be after
	// expansion (a word written longer than this, a heredoc, may keep its
	// own length).
	maxExpandedSize = 1 << 20
	// maxExpansionEstimate is the largest estimate a word is expanded with.
	maxExpansionEstimate = 16 << 20
	// maxExpansionTotal is the most that expansion may add, all words of a
	// build together. Each line of `ENV aN=$big` adds up to 1 MiB to the
	// image config (and its history) from a few bytes of Dockerfile, and
	// every later step carries the config: without a total, a small
	// Dockerfile still reaches gigabytes.
	maxExpansionTotal = 8 << 20
)

// ExpansionError is a word or variable whose expansion is over the limit.
type ExpansionError struct {
	What     string // e.g. "ARG a8", "ENV PATH", `COPY "$a$a…"`
	Size     int64
	Estimate bool // Size is an upper bound; the word was not expanded
	Total    bool // Size is what all expansions of the build added
}

func (e *ExpansionError) Error() string {
	if e.Total {
		return fmt.Sprintf("%s: with this value, expansion has added %s to this build, over strata's %s limit for all variables' values together: reference large values less often, or put the data in a file of the context and COPY it",
			e.What, bytesize.Binary(e.Size), bytesize.Binary(maxExpansionTotal))
	}
	size := "would be " + bytesize.Binary(e.Size)
	if e.Estimate {
		size = "could reach " + bytesize.Binary(e.Size)
	}
	return fmt.Sprintf("%s: value %s after expansion, over strata's %s limit: use fewer or shorter variables (a value is at most %s after expansion), or put the data in a file of the context and COPY it",
		e.What, size, bytesize.Binary(maxExpandedSize), bytesize.Binary(maxExpandedSize))
}

// expandLimit is the limit for one word: maxExpandedSize, or the word's
// own length when it is longer (a heredoc written in the Dockerfile).
func expandLimit(word string) int64 {
	return max(maxExpandedSize, int64(len(word)))
}

// checkExpansion refuses a word whose expansion could be too large to
// compute; what names it in the error (called only then).
func checkExpansion(word string, env shell.EnvGetter, what func() string) error {
	if b := expansionBound(word, env); b > max(maxExpansionEstimate, expandLimit(word)) {
		return &ExpansionError{What: what(), Size: b, Estimate: true}
	}
	return nil
}

// named is a what for the expand functions.
func Named(s string) func() string { return func() string { return s } }

// wrapExpand prefixes an expansion's error, unless it already names what
// was expanded (an ExpansionError).
func WrapExpand(prefix string, err error) error {
	var ee *ExpansionError
	if errors.As(err, &ee) {
		return err
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// LimitedExpand is lex.ProcessWordWithMatches with the checks: the word's
// bound, its result, and what the build's expansions have added in all.
func (p *Plan) LimitedExpand(lex *shell.Lex, word string, env shell.EnvGetter, what func() string) (shell.ProcessWordResult, error) {
	if err := checkExpansion(word, env, what); err != nil {
		return shell.ProcessWordResult{}, err
	}
	res, err := lex.ProcessWordWithMatches(word, env)
	if err != nil {
		return res, err
	}
	n := int64(len(res.Result))
	if n > expandLimit(word) {
		return shell.ProcessWordResult{}, &ExpansionError{What: what(), Size: n}
	}
	if err := p.addExpanded(n-int64(len(word)), what); err != nil {
		return shell.ProcessWordResult{}, err
	}
	return res, nil
}

// LimitedExpandWords is lex.ProcessWords (a word split after expansion,
// as EXPOSE) with the same checks.
func (p *Plan) LimitedExpandWords(lex *shell.Lex, word string, env shell.EnvGetter, what func() string) ([]string, error) {
	if err := checkExpansion(word, env, what); err != nil {
		return nil, err
	}
	words, err := lex.ProcessWords(word, env)
	if err != nil {
		return nil, err
	}
	var n int64
	for _, w := range words {
		n += int64(len(w))
	}
	if n > expandLimit(word) {
		return nil, &ExpansionError{What: what(), Size: n}
	}
	if err := p.addExpanded(n-int64(len(word)), what); err != nil {
		return nil, err
	}
	return words, nil
}

// addExpanded counts what an expansion added to the build (its result
// less its word) against maxExpansionTotal.
func (p *Plan) addExpanded(grew int64, what func() string) error {
	if grew <= 0 {
		return nil
	}
	if total := p.expanded.Add(grew); total > maxExpansionTotal {
		return &ExpansionError{What: what(), Size: total, Total: true}
	}
	return nil
}

// checkValueSize refuses a value given as is (--build-arg) over the limit.
func checkValueSize(value, what string) error {
	if n := int64(len(value)); n > maxExpandedSize {
		return fmt.Errorf("%s: the value is %s, over strata's %s limit for a variable: pass a shorter value, or put the data in a file of the context and COPY it", what, bytesize.Binary(n), bytesize.Binary(maxExpandedSize))
	}
	return nil
}

// expansionNames maps the words of an instruction that names what it
// sets (ENV, LABEL, ARG) to that name, for errors: "ENV PATH", not a word.
// A word written for several names maps to the first: it is expanded, and
// fails, there first.
func ExpansionNames(c instructions.Command) map[string]string {
	names := map[string]string{}
	add := func(word, what string) {
		if _, ok := names[word]; !ok {
			names[word] = what
		}
	}
	inst := strings.ToUpper(c.Name())
	switch c := c.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			add(kv.Key, inst+" name "+ShortWord(kv.Key))
			add(kv.Value, inst+" "+ShortWord(kv.Key))
		}
	case *instructions.LabelCommand:
		for _, kv := range c.Labels {
			add(kv.Key, inst+" name "+ShortWord(kv.Key))
			add(kv.Value, inst+" "+ShortWord(kv.Key))
		}
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			add(kv.Key, inst+" name "+ShortWord(kv.Key))
			if kv.Value != nil {
				add(*kv.Value, inst+" "+ShortWord(kv.Key))
			}
		}
	}
	return names
}

// expansionWhat names a word of c in an error.
func ExpansionWhat(c instructions.Command, names map[string]string, word string) string {
	if w, ok := names[word]; ok {
		return w
	}
	return strings.ToUpper(c.Name()) + " " + fmt.Sprintf("%q", ShortWord(word))
}

// shortWord keeps the first 40 bytes of a word for a message.
func ShortWord(w string) string {
	const keep = 40
	if len(w) <= keep {
		return w
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(w[cut]) {
		cut--
	}
	return w[:cut] + "…"
}

// expansionBound is an upper bound, in bytes, of what BuildKit's shell
// lexer can make of word with env; it reads only the word and the values
// of the variables it names, in one pass (plus one to find substitutions).
//
// Every byte of the word counts once (three times in a word that is not
// UTF-8, as U+FFFD) and every $ counts as the value of
// the name after it (escaped and single-quoted ones too: over-estimating
// is safe). Only ${NAME/pattern/replacement} multiplies: each of the at
// most len(NAME)+1 matches becomes the replacement, whose regexp template
// may repeat the match ($0), so its output is at most
// m + (2m+1)·R for a value of m bytes and a replacement of at most R, and
// R is bounded by everything after the "/" (the rest of the word).
func expansionBound(word string, env shell.EnvGetter) int64 {
	perByte := int64(1)
	if !utf8.ValidString(word) {
		perByte = 3
	}
	if strings.IndexByte(word, '$') < 0 {
		return perByte * int64(len(word))
	}
	// The positions just after each substitution's "/", ascending.
	var need []int
	for i := 0; i < len(word); i++ {
		if word[i] == '$' {
			if k, ok := substitutionSlash(word, i); ok {
				need = append(need, k+1)
			}
		}
	}
	// The lexer reads runes: an invalid byte comes out as U+FFFD, 3 bytes
	// (in the word, or in a value it reverses for ${NAME%pattern}).
	valueLen := map[string]int64{}
	at := make([]int64, len(need)) // the bound of word[need[j]:]
	next := len(need) - 1
	var cur int64 // the bound of word[i+1:]
	for i := len(word) - 1; i >= 0; i-- {
		for next >= 0 && need[next] == i+1 {
			at[next] = cur
			next--
		}
		if word[i] != '$' {
			cur = satAdd(cur, perByte)
			continue
		}
		name, k, braced := dollarName(word, i)
		m, seen := valueLen[name]
		if !seen {
			if v, ok := env.Get(name); ok {
				m = int64(len(v))
				if !utf8.ValidString(v) {
					m *= 3
				}
			}
			valueLen[name] = m
		}
		if braced && k < len(word) && word[k] == '/' {
			rest := at[sort.SearchInts(need, k+1)]
			// The "${NAME/" itself too: it is text when this $ was
			// taken as a name by the one before ("$${/…").
			cur = satAdd(satAdd(perByte*int64(k+1-i), m), satMul(2*m+2, rest))
		} else {
			cur = satAdd(cur, satAdd(perByte, m))
		}
	}
	return cur
}

// substitutionSlash reports whether the $ at i starts ${NAME/…, and where
// that "/" is.
func substitutionSlash(word string, i int) (int, bool) {
	_, k, braced := dollarName(word, i)
	return k, braced && k < len(word) && word[k] == '/'
}

// dollarName reads the name after the $ at i as the lexer's processName
// does: digits, or one special parameter, or letters, digits and _. k is
// the index after the name; braced whether "${" opened it.
func dollarName(word string, i int) (name string, k int, braced bool) {
	j := i + 1
	if j < len(word) && word[j] == '{' {
		braced = true
		j++
	}
	k = j
	r, n := utf8.DecodeRuneInString(word[k:])
	switch {
	case n == 0:
	case unicode.IsDigit(r):
		for k < len(word) {
			r, n := utf8.DecodeRuneInString(word[k:])
			if !unicode.IsDigit(r) {
				break
			}
			k += n
		}
	case strings.ContainsRune("@*#?-$!0", r):
		k += n
	default:
		for k < len(word) {
			r, n := utf8.DecodeRuneInString(word[k:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' {
				break
			}
			k += n
		}
	}
	return word[j:k], k, braced
}

const satMax = int64(1) << 60

func satAdd(a, b int64) int64 {
	if a >= satMax-b {
		return satMax
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a >= satMax/b {
		return satMax
	}
	return a * b
}
