package layers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/strata-build/strata/layers/beneath"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// View is the merged filesystem of a layer chain, read without mounting:
// overlay rules applied by hand (0/0 character devices hide lower paths,
// opaque directories hide lower contents). It serves COPY (destination
// rules, /etc/passwd for --chown), COPY --from a stage, and the TUI's
// "whole filesystem" tree and file pager.
type View struct {
	// Lowers are the unpacked layer dirs, TOP FIRST.
	Lowers []string
}

// Entry is one path found in a View.
type Entry struct {
	Path  string // path inside the image ("/etc/passwd")
	Host  string // where it is on the host (in one layer dir)
	Layer int    // index into Lowers
	Info  fs.FileInfo
}

func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 || fi.Mode()&fs.ModeDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// layerLookup is what one layer says about p: the entry (nil when the layer
// does not hold p), whether the layer hides p in the layers below it (a
// whiteout or a non-directory at p or an ancestor), and whether an opaque
// ancestor or p itself stops the lookup at this layer.
type layerLookup struct {
	info   fs.FileInfo
	hidden bool
	stop   bool
}

// lookup reads p in layer i. The layer dir is opened as a beneath root
// with no symlinks allowed on the way: a layer's symlinks are the image's
// business (Resolve follows them inside the image), so `a -> /root` in one
// layer under the directories a/ and a/.docker/ in another never leads a
// lookup to the host's /root.
func (v *View) lookup(i int, p string) (layerLookup, error) {
	var out layerLookup
	root, err := beneath.Open(v.Lowers[i], beneath.NoSymlinks)
	if err != nil {
		return out, err
	}
	defer root.Close()
	comps := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if p == "/" {
		comps = nil
	}
	q := ""
	for _, c := range comps[:max(len(comps)-1, 0)] {
		q += "/" + c
		fi, err := root.Lstat(q)
		if err != nil {
			if errors.Is(err, beneath.ErrSymlink) {
				out.hidden = true // a symlink on the way: q was one, a non-dir
			}
			return out, nil // not in this layer; lower layers decide
		}
		if isWhiteout(fi) || !fi.IsDir() {
			out.hidden = true
			return out, nil
		}
		if v, err := root.Lgetxattr(q, rootless.OverlayOpaqueXattr()); err == nil && string(v) == "y" {
			out.stop = true
		}
	}
	fi, err := root.Lstat(p)
	if err != nil {
		return out, nil
	}
	if isWhiteout(fi) {
		out.hidden = true
		return out, nil
	}
	out.info = fi
	return out, nil
}

// Lstat finds p (absolute, cleaned; symlinks not followed) in the view.
func (v *View) Lstat(p string) (*Entry, error) {
	p = path.Clean("/" + p)
	for i, lower := range v.Lowers {
		l, err := v.lookup(i, p)
		if err != nil {
			return nil, err
		}
		if l.hidden {
			return nil, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
		}
		if l.info != nil {
			return &Entry{Path: p, Host: filepath.Join(lower, p), Layer: i, Info: l.info}, nil
		}
		if l.stop {
			break
		}
	}
	if p == "/" {
		// An empty image still has a root.
		fi, err := os.Lstat(os.TempDir())
		if err != nil {
			return nil, err
		}
		return &Entry{Path: "/", Host: "", Layer: -1, Info: rootInfo{fi}}, nil
	}
	return nil, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
}

// Open opens the regular file of an entry this view returned, resolved
// beneath its layer with no symlink on the way.
func (v *View) Open(e *Entry) (*os.File, error) {
	if e.Layer < 0 || e.Layer >= len(v.Lowers) {
		return nil, &fs.PathError{Op: "open", Path: e.Path, Err: fs.ErrNotExist}
	}
	root, err := beneath.Open(v.Lowers[e.Layer], beneath.NoSymlinks)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.OpenFile(e.Path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}

// Readlink reads the symlink of an entry this view returned.
func (v *View) Readlink(e *Entry) (string, error) {
	if e.Layer < 0 || e.Layer >= len(v.Lowers) {
		return "", &fs.PathError{Op: "readlink", Path: e.Path, Err: fs.ErrNotExist}
	}
	root, err := beneath.Open(v.Lowers[e.Layer], beneath.NoSymlinks)
	if err != nil {
		return "", err
	}
	defer root.Close()
	return root.Readlink(e.Path)
}

type rootInfo struct{ fs.FileInfo }

func (rootInfo) Name() string      { return "/" }
func (rootInfo) Mode() fs.FileMode { return fs.ModeDir | 0o755 }
func (rootInfo) IsDir() bool       { return true }

// ErrEscapes is returned when a symlink chain needs more than 255 hops.
var errLoop = errors.New("too many levels of symbolic links")

// Resolve follows symlinks in p inside the view, the root being the
// image's root (a link can never leave it), and returns the resolved
// path. When follow is false the last component is not followed. The
// resolved path need not exist (its missing tail is kept).
func (v *View) Resolve(p string, follow bool) (string, error) {
	p = path.Clean("/" + p)
	rest := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if p == "/" {
		return "/", nil
	}
	cur := "/"
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		if len(rest) == 0 && !follow {
			cur = next
			break
		}
		e, err := v.Lstat(next)
		if err != nil {
			// Missing: keep the remaining components as they are.
			cur = path.Join(append([]string{next}, rest...)...)
			return cur, nil
		}
		if e.Info.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		hops++
		if hops > 255 {
			return "", fmt.Errorf("%s: %w", p, errLoop)
		}
		target, err := v.Readlink(e)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// Stat finds p following symlinks.
func (v *View) Stat(p string) (*Entry, error) {
	r, err := v.Resolve(p, true)
	if err != nil {
		return nil, err
	}
	return v.Lstat(r)
}

// ReadFile reads a file (symlinks followed), at most max bytes (max <= 0:
// all of it).
func (v *View) ReadFile(p string, max int64) ([]byte, error) {
	e, err := v.Stat(p)
	if err != nil {
		return nil, err
	}
	if !e.Info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	f, err := v.Open(e)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := e.Info.Size()
	if max > 0 && size > max {
		size = max
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return buf[:n], err
}

// ReadDir lists a directory of the view (symlinks in p followed), sorted
// by name.
func (v *View) ReadDir(p string) ([]*Entry, error) {
	r, err := v.Resolve(p, true)
	if err != nil {
		return nil, err
	}
	dir, err := v.Lstat(r)
	if err != nil {
		return nil, err
	}
	if !dir.Info.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", p)
	}
	seen := map[string]bool{}
	var out []*Entry
	start := max(dir.Layer, 0)
	for i := start; i < len(v.Lowers); i++ {
		l, err := v.lookup(i, r)
		if err != nil {
			return nil, err
		}
		if l.hidden || (l.info != nil && !l.info.IsDir()) {
			break // a whiteout or a non-dir here hides the layers below
		}
		if l.info == nil {
			if l.stop {
				break
			}
			continue
		}
		root, err := beneath.Open(v.Lowers[i], beneath.NoSymlinks)
		if err != nil {
			return nil, err
		}
		infos, err := root.ReadDir(r)
		opaque := false
		if val, xerr := root.Lgetxattr(r, rootless.OverlayOpaqueXattr()); xerr == nil && string(val) == "y" {
			opaque = true
		}
		root.Close()
		if err != nil {
			return nil, err
		}
		host := filepath.Join(v.Lowers[i], r)
		for _, info := range infos {
			if seen[info.Name()] {
				continue
			}
			seen[info.Name()] = true
			if isWhiteout(info) {
				continue
			}
			out = append(out, &Entry{Path: path.Join(r, info.Name()), Host: filepath.Join(host, info.Name()), Layer: i, Info: info})
		}
		if opaque || l.stop {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Walk visits every path of the view under root (root included), parents
// before children, in lexical order. Symlinks are not followed.
func (v *View) Walk(root string, fn func(e *Entry) error) error {
	e, err := v.Lstat(root)
	if err != nil {
		return err
	}
	return v.walk(e, fn)
}

func (v *View) walk(e *Entry, fn func(e *Entry) error) error {
	if err := fn(e); err != nil {
		if errors.Is(err, fs.SkipDir) {
			return nil
		}
		return err
	}
	if !e.Info.IsDir() {
		return nil
	}
	kids, err := v.ReadDir(e.Path)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := v.walk(k, fn); err != nil {
			return err
		}
	}
	return nil
}

// OverlayLowers is a lowerdir= list (top first) with each dir once, as
// overlayfs requires (a dir named twice fails with ELOOP). Two steps that
// made the same layer put it twice in a chain; the topmost copy decides
// every path it holds, so dropping the lower copies changes nothing.
func OverlayLowers(lowers []string) []string {
	seen := make(map[string]bool, len(lowers))
	out := make([]string, 0, len(lowers))
	for _, l := range lowers {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}
