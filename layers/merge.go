package layers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// ErrNoMerge says the merged listing of a chain cannot be had from its
// layers' change lists (a list is not in walk order): walk the View
// instead.
var ErrNoMerge = errors.New("the layers' change lists cannot be merged (walk the view instead)")

// errStopMerge ends a change list's reading when the merge stops early.
var errStopMerge = errors.New("merge stopped")

// EachMerged gives fn every path of the merged filesystem of chain (base
// first, as a snapshot's layers), the root excepted, as View.Walk of
// s.View(chain) visits them and in its order (depth first, names sorted),
// without the walk's lookups in every layer of every path: the layers'
// change lists (kept with them as changes.json, in the order a walk writes
// them) are merged, the upper layer's entry winning. A layer that keeps no
// list (an imported one) is listed by a walk of its own unpacked tree
// alone (walkLayer), not from its tar: the tree is what the View reads
// (parents the tar lacks included), and is in walk order. A deletion
// hides the path and all under it in the layers below; so does a
// non-directory; an opaque directory hides the lower layers' content under
// it. Each entry is in the form the walk gives (snapshot's entryChange):
// Kind Added, a hard link as the regular file it is, no size for a
// symlink, no Opaque.
//
// Each list is read in its own goroutine, a few batches of it at a time:
// no list is held whole. c is only valid during the call; an error from
// fn ends it and is returned. An error wrapping ErrNoMerge says a list is
// not in walk order (fn may have had some entries: the caller starts
// again from a walk).
func (s *Store) EachMerged(chain []v1.Hash, fn func(c *Change) error) error {
	k := len(chain)
	done := make(chan struct{})
	srcs := make([]*mergeSrc, k) // top first
	for i := range srcs {
		srcs[i] = s.startList(chain[k-1-i], done)
	}
	defer func() {
		close(done)
		for _, src := range srcs {
			for range src.full { // let its goroutine end
			}
		}
	}()
	var hides []mergeHide
	heads := make([]*Change, k)
	for {
		// the next path in walk order, and the lists that have it
		var p string
		found := false
		for i, src := range srcs {
			h, err := src.head()
			if err != nil {
				return err
			}
			heads[i] = h
			if h != nil && (!found || walkCompare(h.Path, p) < 0) {
				p, found = h.Path, true
			}
		}
		if !found {
			return nil
		}
		for len(hides) > 0 && !under(p, hides[len(hides)-1].path) {
			hides = hides[:len(hides)-1]
		}
		limit := k // lists i > limit are hidden at p
		if len(hides) > 0 {
			limit = hides[len(hides)-1].level
		}
		emitted, hid := false, false
		for i, h := range heads {
			if h == nil || h.Path != p {
				continue
			}
			if i <= limit && !emitted {
				emitted = true
				if h.Kind != Deleted {
					c := *h
					c.Kind, c.Opaque = Added, false
					switch c.Type {
					case TypeHardlink:
						c.Type, c.Linkname = TypeRegular, ""
					case TypeSymlink:
						c.Size = 0
					}
					if err := fn(&c); err != nil {
						return err
					}
				}
			}
			if i <= limit && !hid && (h.Kind == Deleted || h.Type != TypeDir || h.Opaque) {
				hid = true // the lists below i have nothing at or under p
				hides = append(hides, mergeHide{path: p, level: i})
			}
			srcs[i].next()
		}
	}
}

// mergeHide: lists whose index (top first) is above level have nothing
// at or under path.
type mergeHide struct {
	path  string
	level int
}

// under: p is dir or below it.
func under(p, dir string) bool {
	return strings.HasPrefix(p, dir) && (len(p) == len(dir) || p[len(dir)] == '/')
}

// walkCompare orders paths as a walk visits them: depth first, the names
// of a directory sorted ("/a", "/a/b", "/a.b"): as byte strings with '/'
// below every other byte.
func walkCompare(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		switch {
		case ca == '/':
			return -1
		case cb == '/':
			return 1
		case ca < cb:
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// mergeSrc is one layer's change list, read in batches by a goroutine.
type mergeSrc struct {
	full chan []Change // batches read; closed at the end, err set before
	free chan []Change
	err  error
	cur  []Change
	i    int
	prev string
	diff v1.Hash
}

const mergeBatch = 4096

func (s *Store) startList(d v1.Hash, done <-chan struct{}) *mergeSrc {
	src := &mergeSrc{full: make(chan []Change, 2), free: make(chan []Change, 3), diff: d}
	for range cap(src.free) {
		src.free <- make([]Change, 0, mergeBatch)
	}
	go func() {
		defer close(src.full)
		b := <-src.free
		each := func(fn func(c *Change) error) error { return s.EachChange(d, nil, fn) }
		if _, err := os.Stat(filepath.Join(s.layerDir(d), "changes.json")); errors.Is(err, fs.ErrNotExist) {
			each = func(fn func(c *Change) error) error { return walkLayer(s.LayerFS(d), fn) }
		}
		err := each(func(c *Change) error {
			b = append(b, *c)
			if len(b) == mergeBatch {
				select {
				case src.full <- b:
				case <-done:
					return errStopMerge
				}
				select {
				case b = <-src.free:
				case <-done:
					return errStopMerge
				}
			}
			return nil
		})
		if err == nil && len(b) > 0 {
			select {
			case src.full <- b:
			case <-done:
			}
		}
		if err != nil && !errors.Is(err, errStopMerge) {
			src.err = fmt.Errorf("the change list of layer %s: %w", d, err)
		}
	}()
	return src
}

// head is the list's next entry (nil at its end), the root skipped; a
// list out of walk order is an error wrapping ErrNoMerge.
func (src *mergeSrc) head() (*Change, error) {
	for {
		if src.i < len(src.cur) {
			c := &src.cur[src.i]
			if c.Path == "/" {
				src.i++
				continue
			}
			if c.Path == "" || c.Path[0] != '/' || strings.HasSuffix(c.Path, "/") ||
				(src.prev != "" && walkCompare(src.prev, c.Path) >= 0) {
				return nil, fmt.Errorf("the change list of layer %s has %q after %q, not in walk order: %w", src.diff, c.Path, src.prev, ErrNoMerge)
			}
			return c, nil
		}
		if src.cur != nil {
			src.free <- src.cur[:0]
			src.cur = nil
		}
		b, ok := <-src.full
		if !ok {
			return nil, src.err
		}
		src.cur, src.i = b, 0
	}
}

// next moves past the head.
func (src *mergeSrc) next() {
	src.prev = src.cur[src.i].Path
	src.i++
}

// walkLayer gives fn every entry of one unpacked layer's tree (the root
// excepted) in walk order, as the View reads them: a 0/0 character device
// is a deletion, a directory with the overlay opaque xattr is Opaque,
// anything else is added with its own stat (a hard link is the regular
// file it is). Nothing is followed: every entry is read at its directory's
// descriptor without symlinks.
func walkLayer(dir string, fn func(c *Change) error) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("layer tree %s: %w", dir, err)
	}
	defer unix.Close(fd)
	w := &layerWalker{dir: dir, fn: fn, dents: make([]byte, 32<<10), link: make([]byte, 4096), opaque: rootless.OverlayOpaqueXattr()}
	return w.walk(fd, "")
}

type layerWalker struct {
	dir    string
	fn     func(c *Change) error
	dents  []byte
	link   []byte
	opaque string
	c      Change
}

func (w *layerWalker) walk(dirfd int, rel string) error {
	names, err := readDirNames(dirfd, w.dents, nil)
	if err != nil {
		return fmt.Errorf("layer tree: reading %s/%s: %w", w.dir, rel, err)
	}
	slices.Sort(names)
	for _, name := range names {
		p := rel + "/" + name
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("layer tree: %w", &fs.PathError{Op: "lstat", Path: w.dir + p, Err: err})
		}
		c := &w.c
		*c = Change{Path: p, Kind: Added, Type: fileType(st.Mode), Mode: fileMode(st.Mode), UID: int(st.Uid), GID: int(st.Gid),
			ModTime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec))}
		switch c.Type {
		case TypeRegular:
			c.Size = st.Size
		case TypeChar:
			if st.Rdev == 0 {
				*c = Change{Path: p, Kind: Deleted}
			}
		case TypeSymlink:
			if c.Linkname, err = readlinkAt(dirfd, name, w.link); err != nil {
				return fmt.Errorf("layer tree: %w", &fs.PathError{Op: "readlink", Path: w.dir + p, Err: err})
			}
		case TypeDir:
			sub, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("layer tree: %w", &fs.PathError{Op: "open", Path: w.dir + p, Err: err})
			}
			var v [1]byte
			if n, err := unix.Fgetxattr(sub, w.opaque, v[:]); err == nil && n == 1 && v[0] == 'y' {
				c.Opaque = true
			}
			err = w.fn(c)
			if err == nil {
				err = w.walk(sub, p)
			}
			unix.Close(sub)
			if err != nil {
				return err
			}
			continue
		}
		if err := w.fn(c); err != nil {
			return err
		}
	}
	return nil
}
