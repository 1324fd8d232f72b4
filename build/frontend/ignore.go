package frontend

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
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

// LoadIgnore reads the ignore file for a build, as BuildKit does: from the
// folder that holds it, links resolved inside that folder (readInDir). A
// missing file, a link that leads out of its folder and anything but a
// regular file count as no ignore file (BuildKit's "a missing ignore file
// is not an error"); one over 16 MiB is an error, as there.
func LoadIgnore(contextDir, dockerfile string) (*Ignore, error) {
	candidates := [][2]string{
		{filepath.Dir(dockerfile), filepath.Base(dockerfile) + ".dockerignore"},
		{contextDir, ".dockerignore"},
	}
	for _, c := range candidates {
		name := filepath.Join(c[0], c[1])
		b, err := readInDir(c[0], c[1])
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errLinkOutside) || errors.Is(err, errNotRegular) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ShortPath(name), ErrnoOf(err))
		}
		pats, err := ignorefile.ReadAll(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ShortPath(name), err)
		}
		return newIgnore(name, pats)
	}
	return newIgnore("", nil)
}

// newIgnore compiles patterns.
func newIgnore(file string, patterns []string) (*Ignore, error) {
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: bad pattern: %w", ShortPath(file), err)
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
