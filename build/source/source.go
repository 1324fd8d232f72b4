package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/layers/beneath"
)

// Source is where COPY reads from: the context or an image/stage view.
type Source interface {
	// Match expands one source argument to paths (within the source).
	Match(arg string) ([]string, error)
	// Stat finds a matched path; follow resolves a final symlink.
	Stat(p string, follow bool) (fs.FileInfo, string, error)
	// Walk lists everything below dir p (not p itself), parents first.
	Walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error
	// Open opens a regular file that stat or walk found (by its host
	// path), resolved beneath the source's root with no symlink on the way.
	Open(host string) (*os.File, error)
	// Readlink reads a symlink that stat or walk found, the same way.
	Readlink(host string) (string, error)
	// excluded reports whether a path is excluded (.dockerignore, --exclude).
	excluded(p string) bool
}

// Context reads the build context, honouring .dockerignore and
// --exclude, and never leaving the context (.. or symlinks). The context
// is the user's directory but its content is anyone's (a cloned
// repository): every name is resolved beneath it (layers/beneath), never
// joined to it and handed to the kernel.
type Context struct {
	root string        // absolute, symlinks resolved
	dir  *beneath.Root // root; symlinks followed while they stay beneath it
	real *beneath.Root // root; no symlink on the way (for resolved host paths)
	ign  *frontend.Ignore
	excl *patternmatcher.PatternMatcher
}

// NewContext opens the build context dir; ign is its .dockerignore (nil:
// none), excl a COPY --exclude (nil: none). Close releases it.
func NewContext(dir string, ign *frontend.Ignore, excl *patternmatcher.PatternMatcher) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	c := &Context{root: real, ign: ign, excl: excl}
	if c.dir, err = beneath.Open(real, beneath.FollowInside); err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if c.real, err = beneath.Open(real, beneath.NoSymlinks); err != nil {
		c.dir.Close()
		return nil, fmt.Errorf("build context: %w", err)
	}
	return c, nil
}

func (c *Context) excluded(p string) bool {
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

// Clean makes a source argument a path from the context root ("/a/b"),
// refusing one that leads above it.
func Clean(arg string) (string, error) {
	p := filepath.ToSlash(arg)
	rel := path.Clean(strings.TrimPrefix(p, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside the build context: sources are relative to the context directory; move the file into the context or pass a wider context", frontend.ShortPath(arg))
	}
	return "/" + strings.TrimPrefix(rel, "."), nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// Match expands one source argument to paths of the context: a literal
// one must exist and not be excluded; wildcards match what is not
// excluded, and may match nothing.
func (c *Context) Match(arg string) ([]string, error) {
	p, err := Clean(strings.Replace(arg, "/./", "/", 1))
	if err != nil {
		return nil, err
	}
	if !hasMeta(p) {
		if _, _, err := c.Stat(p, true); err != nil {
			return nil, err
		}
		if c.excluded(p) {
			return nil, fmt.Errorf("%s: not found: it is excluded by %s", frontend.ShortPath(arg), ignoreName(c.ign))
		}
		return []string{p}, nil
	}
	ms, err := globMatch(p, func(dir string) ([]string, error) {
		// Listed beneath the context: a directory reached through a
		// symlink that leads outside is never listed.
		des, err := c.dir.ReadDir(dir)
		if errors.Is(err, beneath.ErrOutside) {
			return nil, c.outside(dir)
		}
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
		if _, err := c.dir.Lstat(m); err == nil {
			out = append(out, m)
		}
	}
	return out, nil // no match is no error (BuildKit's AllowEmptyWildcard)
}

func ignoreName(ig *frontend.Ignore) string {
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

// Stat finds p in the context. Every symlink met on the way (and the last
// one when follow) must resolve inside the context: it is resolved beneath
// the context root, so one that leads outside is refused and never
// followed. host is the resolved path (no symlink in it): open and
// readlink take it.
func (c *Context) Stat(p string, follow bool) (fs.FileInfo, string, error) {
	fi, err := c.dir.Lstat(p)
	link := err == nil && fi.Mode()&fs.ModeSymlink != 0
	if link && follow {
		fi, err = c.dir.Stat(p)
	}
	var host string
	if err == nil {
		host, err = c.hostPath(p, link && follow)
	}
	if err != nil {
		if errors.Is(err, beneath.ErrOutside) {
			return nil, "", c.outside(p)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s: not found in the build context %s", frontend.ShortPath(strings.TrimPrefix(p, "/")), frontend.ShortPath(c.root))
		}
		return nil, "", fmt.Errorf("%s: %w", frontend.ShortPath(strings.TrimPrefix(p, "/")), frontend.ErrnoOf(err))
	}
	return fi, host, nil
}

// outside explains a path of the context that a symlink takes outside it,
// naming the symlink and its target as written (nothing outside the
// context is looked at).
func (c *Context) outside(p string) error {
	q := ""
	for _, comp := range strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/") {
		q = path.Join(q, comp)
		if _, err := c.dir.Stat(q); errors.Is(err, beneath.ErrOutside) {
			if target, err := c.dir.Readlink(q); err == nil {
				return fmt.Errorf("%s is a symlink that leads outside the build context (to %s): copy the target into the context instead", frontend.ShortPath(q), frontend.ShortPath(target))
			}
			break
		}
	}
	return fmt.Errorf("%s: a symlink on the way leads outside the build context: copy the target into the context instead", frontend.ShortPath(strings.TrimPrefix(p, "/")))
}

// Walk lists what is below the directory p, each entry with its resolved
// host path. Only real directories are entered, each opened beneath the
// context with no symlink on the way: a directory that became a symlink
// since it was listed fails the walk, never leads it elsewhere.
func (c *Context) Walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error {
	_, start, err := c.Stat(p, true)
	if err != nil {
		return err
	}
	top, ok := c.nameOf(start)
	if !ok {
		return c.outside(p)
	}
	var visit func(dir, rel string) error
	visit = func(dir, rel string) error {
		infos, err := c.real.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, info := range infos {
			r := path.Join(rel, info.Name())
			name := path.Join(dir, info.Name())
			ctxRel := path.Join(p, r)
			if c.excluded(ctxRel) {
				// An excluded dir is still entered when a ! pattern may
				// re-include something inside it.
				if info.IsDir() && c.ign != nil && c.ign.MayMatchInside(strings.TrimPrefix(ctxRel, "/")) {
					if err := visit(name, r); err != nil {
						return err
					}
				}
				continue
			}
			if err := fn(r, info, filepath.Join(c.root, name)); err != nil {
				if errors.Is(err, fs.SkipDir) {
					if info.IsDir() {
						continue
					}
					return nil
				}
				return err
			}
			if info.IsDir() {
				if err := visit(name, r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return visit(top, "")
}

// View reads another stage's or image's filesystem (NewView).
type View struct {
	view *layers.View
	excl *patternmatcher.PatternMatcher
}

// NewView reads view, skipping what excl (a COPY --exclude, nil: none)
// matches.
func NewView(view *layers.View, excl *patternmatcher.PatternMatcher) *View {
	return &View{view: view, excl: excl}
}

func (v *View) excluded(p string) bool {
	if v.excl == nil {
		return false
	}
	m, _ := v.excl.MatchesOrParentMatches(strings.TrimPrefix(p, "/"))
	return m
}

// Match expands one source argument to paths of the view.
func (v *View) Match(arg string) ([]string, error) {
	p := path.Clean("/" + strings.Replace(arg, "/./", "/", 1))
	if !hasMeta(p) {
		if _, _, err := v.Stat(p, true); err != nil {
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

// Stat finds p in the view (a final symlink followed when follow); host is
// the path in its layer.
func (v *View) Stat(p string, follow bool) (fs.FileInfo, string, error) {
	var e *layers.Entry
	var err error
	if follow {
		e, err = v.view.Stat(p)
	} else {
		e, err = v.view.Lstat(p)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: not found in the source image", frontend.ShortPath(p))
	}
	return e.Info, e.Host, nil
}

// Walk lists what is below the directory p in the view, skipping what is
// excluded.
func (v *View) Walk(p string, fn func(rel string, info fs.FileInfo, host string) error) error {
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
