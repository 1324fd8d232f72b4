package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Ignore is the context's .dockerignore (or <Dockerfile>.dockerignore,
// which wins when present, as with BuildKit).
type Ignore struct {
	File     string // the file read, "" when none
	Patterns []string
	pm       *patternmatcher.PatternMatcher
}

// LoadIgnore reads the ignore file for a build.
func LoadIgnore(contextDir, dockerfile string) (*Ignore, error) {
	candidates := []string{
		dockerfile + ".dockerignore",
		filepath.Join(contextDir, ".dockerignore"),
	}
	for _, c := range candidates {
		f, err := os.Open(c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", c, err)
		}
		pats, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		return NewIgnore(c, pats)
	}
	return NewIgnore("", nil)
}

// NewIgnore compiles patterns.
func NewIgnore(file string, patterns []string) (*Ignore, error) {
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: bad pattern: %w", file, err)
	}
	return &Ignore{File: file, Patterns: patterns, pm: pm}, nil
}

// Excluded reports whether a context-relative path (slash separated, no
// leading "/") is excluded, by itself or through a parent directory.
func (ig *Ignore) Excluded(rel string) bool {
	if ig == nil || len(ig.Patterns) == 0 {
		return false
	}
	m, err := ig.pm.MatchesOrParentMatches(rel)
	if err != nil {
		return false
	}
	return m
}

// MayMatchInside reports whether an excluded directory can still have
// re-included children (a negation pattern below it), so a walk must
// descend into it.
func (ig *Ignore) MayMatchInside(rel string) bool {
	if ig == nil {
		return false
	}
	if !ig.pm.Exclusions() {
		return false
	}
	prefix := rel + "/"
	for _, p := range ig.pm.Patterns() {
		if !p.Exclusion() {
			continue
		}
		s := p.String()
		if strings.HasPrefix(s, prefix) || strings.ContainsAny(s, "*?[") {
			return true
		}
	}
	return false
}
