package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/strata-build/strata/layers"
)

// source is where COPY reads from: the context or an image/stage view.
type source interface {
	// match expands one source argument to paths (within the source).
	match(arg string) ([]string, error)
	// lstat finds a matched path; follow resolves a final symlink.
	stat(p string, follow bool) (fs.FileInfo, string, error)
	// walk lists everything below dir p (not p itself), parents first.
	walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error
	// excluded reports whether a path is excluded (.dockerignore, --exclude).
	excluded(p string) bool
}

// contextSource reads the build context, honouring .dockerignore and
// --exclude, and never leaving the context (.. or symlinks).
type contextSource struct {
	root string // absolute, symlinks resolved
	ign  *Ignore
	excl *patternmatcher.PatternMatcher
}

func newContextSource(dir string, ign *Ignore, excl *patternmatcher.PatternMatcher) (*contextSource, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	return &contextSource{root: real, ign: ign, excl: excl}, nil
}

func (c *contextSource) excluded(p string) bool {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		return false
	}
	if c.ign != nil && c.ign.Excluded(rel) {
		return true
	}
	if c.excl != nil {
		if m, _ := c.excl.MatchesOrParentMatches(rel); m {
			return true
		}
	}
	return false
}

func cleanSource(arg string) (string, error) {
	p := filepath.ToSlash(arg)
	rel := path.Clean(strings.TrimPrefix(p, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside the build context: sources are relative to the context directory; move the file into the context or pass a wider context", arg)
	}
	return "/" + strings.TrimPrefix(rel, "."), nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

func (c *contextSource) match(arg string) ([]string, error) {
	p, err := cleanSource(strings.Replace(arg, "/./", "/", 1))
	if err != nil {
		return nil, err
	}
	if !hasMeta(p) {
		if _, _, err := c.stat(p, true); err != nil {
			return nil, err
		}
		if c.excluded(p) {
			return nil, fmt.Errorf("%s: not found: it is excluded by %s", arg, ignoreName(c.ign))
		}
		return []string{p}, nil
	}
	ms, err := globMatch(p, func(dir string) ([]string, error) {
		des, err := os.ReadDir(filepath.Join(c.root, dir))
		if err != nil {
			return nil, nil
		}
		var names []string
		for _, d := range des {
			if !c.excluded(path.Join(dir, d.Name())) {
				names = append(names, d.Name())
			}
		}
		return names, nil
	})
	if err != nil {
		return nil, err
	}
	// A literal component after a wildcard ("*/a") matches only where it
	// exists, as with filepath.Glob.
	out := ms[:0]
	for _, m := range ms {
		if _, err := os.Lstat(filepath.Join(c.root, m)); err == nil {
			out = append(out, m)
		}
	}
	return out, nil // no match is no error (BuildKit's AllowEmptyWildcard)
}

func ignoreName(ig *Ignore) string {
	if ig == nil || ig.File == "" {
		return "--exclude"
	}
	return filepath.Base(ig.File)
}

// globMatch expands a pattern component by component.
func globMatch(p string, list func(dir string) ([]string, error)) ([]string, error) {
	comps := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := []string{"/"}
	for _, comp := range comps {
		var next []string
		for _, dir := range cur {
			if !hasMeta(comp) {
				next = append(next, path.Join(dir, comp))
				continue
			}
			names, err := list(dir)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if ok, err := path.Match(comp, n); err != nil {
					return nil, fmt.Errorf("bad pattern %q: %w", p, err)
				} else if ok {
					next = append(next, path.Join(dir, n))
				}
			}
		}
		cur = next
	}
	return cur, nil
}

// stat finds p in the context. Every symlink met on the way (and the last
// one when follow) must resolve inside the context.
func (c *contextSource) stat(p string, follow bool) (fs.FileInfo, string, error) {
	host := filepath.Join(c.root, p)
	fi, err := os.Lstat(host)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s: not found in the build context %s", strings.TrimPrefix(p, "/"), c.root)
		}
		return nil, "", err
	}
	real, err := filepath.EvalSymlinks(host)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", strings.TrimPrefix(p, "/"), err)
	}
	if real != c.root && !strings.HasPrefix(real, c.root+string(filepath.Separator)) {
		return nil, "", fmt.Errorf("%s is a symlink that leads outside the build context (to %s): copy the target into the context instead", strings.TrimPrefix(p, "/"), real)
	}
	if follow && fi.Mode()&fs.ModeSymlink != 0 {
		fi, err = os.Stat(real)
		if err != nil {
			return nil, "", err
		}
		host = real
	}
	return fi, host, nil
}

func (c *contextSource) walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error {
	_, start, err := c.stat(p, true)
	if err != nil {
		return err
	}
	return filepath.WalkDir(start, func(h string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if h == start {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(h, start+string(filepath.Separator)))
		ctxRel := path.Join(p, rel)
		if c.excluded(ctxRel) {
			if d.IsDir() && !(c.ign != nil && c.ign.MayMatchInside(strings.TrimPrefix(ctxRel, "/"))) {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(rel, info, h)
	})
}

// viewSource reads another stage's or image's filesystem.
type viewSource struct {
	view *layers.View
	excl *patternmatcher.PatternMatcher
}

func (v *viewSource) excluded(p string) bool {
	if v.excl == nil {
		return false
	}
	m, _ := v.excl.MatchesOrParentMatches(strings.TrimPrefix(p, "/"))
	return m
}

func (v *viewSource) match(arg string) ([]string, error) {
	p := path.Clean("/" + strings.Replace(arg, "/./", "/", 1))
	if !hasMeta(p) {
		if _, _, err := v.stat(p, true); err != nil {
			return nil, err
		}
		return []string{p}, nil
	}
	ms, err := globMatch(p, func(dir string) ([]string, error) {
		es, err := v.view.ReadDir(dir)
		if err != nil {
			return nil, nil
		}
		var names []string
		for _, e := range es {
			if !v.excluded(e.Path) {
				names = append(names, path.Base(e.Path))
			}
		}
		return names, nil
	})
	if err != nil {
		return nil, err
	}
	out := ms[:0]
	for _, m := range ms {
		if _, err := v.view.Lstat(m); err == nil {
			out = append(out, m)
		}
	}
	return out, nil // no match is no error (BuildKit's AllowEmptyWildcard)
}

func (v *viewSource) stat(p string, follow bool) (fs.FileInfo, string, error) {
	var e *layers.Entry
	var err error
	if follow {
		e, err = v.view.Stat(p)
	} else {
		e, err = v.view.Lstat(p)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: not found in the source image", p)
	}
	return e.Info, e.Host, nil
}

func (v *viewSource) walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error {
	r, err := v.view.Resolve(p, true)
	if err != nil {
		return err
	}
	return v.view.Walk(r, func(e *layers.Entry) error {
		if e.Path == r {
			return nil
		}
		if v.excluded(e.Path) {
			if e.Info.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, r), "/")
		return fn(rel, e.Info, e.Host)
	})
}

// fromSource resolves a --from= value (COPY --from, RUN --mount from=)
// as BuildKit does: a stage of this Dockerfile by name or index, otherwise
// an image reference. It returns the stage's state and index, or for an
// image a state holding its config and index -1.
func (e *Executor) fromSource(ctx context.Context, from string) (*stageState, int, error) {
	byName := map[string]int{}
	for _, s := range e.Plan.Stages {
		if s.Name != "" {
			byName[s.Name] = s.Index
		}
	}
	j, isStage, err := e.Plan.resolveStageRef(from, byName)
	if err != nil {
		return nil, -1, err
	}
	if isStage {
		st, ok := e.stages[j]
		if !ok {
			return nil, j, fmt.Errorf("--from=%s: stage %s is not built yet (--from can only read stages defined before this one)", from, e.Plan.Stages[j].DisplayName())
		}
		return st, j, nil
	}
	resolve := e.Resolve
	if resolve == nil {
		resolve = e.defaultResolve
	}
	p := e.Plan.Platform
	cfg, err := resolve(ctx, from, &p)
	if err != nil {
		return nil, -1, fmt.Errorf("--from=%s: not a stage of this Dockerfile (stages are named with FROM IMAGE AS NAME, or numbered from 0), so read as an image: %w", from, err)
	}
	return &stageState{cfg: cfg}, -1, nil
}

// fromView is the filesystem COPY --from names: a stage or an image.
func (e *Executor) fromView(ctx context.Context, from string) (*layers.View, error) {
	st, _, err := e.fromSource(ctx, from)
	if err != nil {
		return nil, err
	}
	return st.view(e.Store), nil
}
