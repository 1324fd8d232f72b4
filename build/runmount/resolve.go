package runmount

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/strata-build/strata/layers"
)

// Source is the filesystem a --mount from= names (a stage or an image).
type Source struct {
	View *layers.View
	What string   // "stage builder", "image alpine:3"
	IDs  []string // its layer chain (diff IDs), bottom first
}

// errEscapes: a source= that leads above the root of what it names.
var errEscapes = errors.New("leads outside the root")

// ResolveInView resolves p inside v, following symlinks with the view's
// root as "/" (as the container sees it), and returns the resolved path. A
// ".." above the root, in p or in a symlink, is refused; so is a path that
// does not exist.
func ResolveInView(v *layers.View, p string) (string, error) {
	if p == "" {
		p = "/"
	}
	orig := p
	rest := strings.Split(p, "/")
	cur := "/"
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == "/" {
				return "", fmt.Errorf("source %s: %w", orig, errEscapes)
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		ent, err := v.Lstat(next)
		if err != nil {
			return "", fmt.Errorf("source %s: %s not found", orig, next)
		}
		if ent.Info.Mode()&fs.ModeSymlink == 0 {
			if len(rest) > 0 && !ent.Info.IsDir() && strings.Trim(strings.Join(rest, "/"), "/.") != "" {
				return "", fmt.Errorf("source %s: %s is not a directory", orig, next)
			}
			cur = next
			continue
		}
		if hops++; hops > 255 {
			return "", fmt.Errorf("source %s: too many levels of symbolic links", orig)
		}
		target, err := v.Readlink(ent)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		// The link's own ".." is checked like the user's: a relative link
		// that climbs above the root leads outside it.
		if escapesFrom(cur, strings.Split(target, "/")) {
			return "", fmt.Errorf("source %s: symlink %s -> %s %w", orig, next, target, errEscapes)
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// escapesFrom reports whether the path components, taken lexically from
// dir, climb above "/".
func escapesFrom(dir string, comps []string) bool {
	depth := 0
	if dir != "/" {
		depth = strings.Count(dir, "/")
	}
	for _, c := range comps {
		switch c {
		case "", ".":
		case "..":
			if depth == 0 {
				return true
			}
			depth--
		default:
			depth++
		}
	}
	return false
}
