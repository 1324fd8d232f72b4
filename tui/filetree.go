package tui

import (
	"slices"
	"strings"

	"github.com/strata-build/strata/layers"
)

// fnode is one path of a file tree. The tree holds no UI state (expanded
// flags live in the pane), like dive's filetree.
type fnode struct {
	name     string // last path element ("" for the root)
	path     string // absolute path
	parent   int32
	children []int32
	ch       layers.Change // the entry (Path empty for a synthesized directory)
	mark     layers.ChangeKind
	dir      bool
	depth    int32
	size     int64    // regular-file bytes in the subtree
	kinds    [4]int32 // changed entries in the subtree by kind (index = ChangeKind)
}

// ftree is a file tree built from a change list.
type ftree struct {
	nodes []fnode
	stats layers.ChangeStats

	// byKey finds a directory's child by name once a list came out of
	// order. Until then it is nil: every directory's children are kept in
	// name order, and a list in the order a walk writes it (each
	// directory's entries together, names sorted: changes.json) only ever
	// meets its directory's last child or one after it, so the tree is
	// built without a map (which cost most of the time of a million
	// files) and needs no sorting.
	byKey map[nodeKey]int32
	moved int // children inserted before a sibling while in order

	// the directory of the previous insert: change lists are mostly
	// grouped by directory, so most inserts skip the walk from the root
	lastDir  string
	lastNode int32
}

type nodeKey struct {
	parent int32
	name   string
}

// buildTree makes a tree of entries. marks, when not nil, are the step's
// changes laid over a whole-filesystem listing; otherwise every entry is
// itself a change and is marked with its Kind.
func buildTree(entries []layers.Change, marks []layers.Change) *ftree {
	t := newTree(len(entries))
	overlay := marks != nil
	for i := range entries {
		n := t.insert(entries[i].Path)
		t.set(n, &entries[i], !overlay)
	}
	if overlay {
		t.mark(marks)
	} else {
		t.stats = layers.Stats(entries)
	}
	t.finish()
	return t
}

// mark lays a step's changes over a whole-filesystem listing.
func (t *ftree) mark(marks []layers.Change) {
	for i := range marks {
		t.markOne(&marks[i])
	}
}

// markOne lays one of a step's changes over a whole-filesystem listing,
// counting it.
func (t *ftree) markOne(c *layers.Change) {
	n := t.insert(c.Path)
	nd := &t.nodes[n]
	if c.Kind == layers.Deleted || nd.ch.Path == "" {
		t.set(n, c, true)
	} else {
		nd.mark = c.Kind
	}
	t.stats.Add(c)
}

// newTree is an empty tree with room for about n entries.
func newTree(n int) *ftree {
	t := &ftree{nodes: make([]fnode, 1, n+n/8+1)}
	t.nodes[0] = fnode{path: "/", dir: true, parent: -1}
	return t
}

// change adds a change to a tree of changes (as buildTree without marks
// does), counting it.
func (t *ftree) change(c *layers.Change) {
	t.set(t.insert(c.Path), c, true)
	t.stats.Add(c)
}

// finish sums the tree and puts children in name order.
func (t *ftree) finish() {
	t.sum(0)
	if t.byKey != nil {
		t.sortBy(false)
	}
}

// streamTree builds the tree of a change list that each gives one entry
// at a time (Backend.EachStepChange), as it is read: the reading (in a
// goroutine) and the building share the two cores, and the list is never
// held whole, only a few batches of it. n is about how many entries.
func streamTree(n int, each func(fn func(*layers.Change) error) error) (*ftree, error) {
	t := newTree(n)
	if err := t.stream(each, t.change); err != nil {
		return nil, err
	}
	t.finish()
	return t, nil
}

// streamWhole builds the tree of the whole filesystem that each gives one
// entry at a time (Backend.EachTreeEntry), as streamTree does, with the
// step's changes that marks gives (Backend.EachStepChange) marked on it,
// as buildTree(entries, marks) does: neither list is held whole. n is
// about how many entries.
func streamWhole(n int, each, marks func(fn func(*layers.Change) error) error) (*ftree, error) {
	t := newTree(n)
	err := t.stream(each, func(c *layers.Change) { t.set(t.insert(c.Path), c, false) })
	if err == nil {
		err = t.stream(marks, t.markOne)
	}
	if err != nil {
		return nil, err
	}
	t.finish()
	return t, nil
}

// stream gives add each entry that each gives, the reading in a
// goroutine, the list never held whole, only a few batches of it.
func (t *ftree) stream(each func(fn func(*layers.Change) error) error, add func(*layers.Change)) error {
	const batch = 4096
	full := make(chan []layers.Change, 2)
	free := make(chan []layers.Change, 3)
	for range cap(free) {
		free <- make([]layers.Change, 0, batch)
	}
	errc := make(chan error, 1)
	go func() {
		b := <-free
		err := each(func(c *layers.Change) error {
			b = append(b, *c)
			if len(b) == batch {
				full <- b
				b = <-free
			}
			return nil
		})
		if len(b) > 0 {
			full <- b
		}
		close(full)
		errc <- err
	}()
	for b := range full {
		for i := range b {
			add(&b[i])
		}
		free <- b[:0]
	}
	return <-errc
}

func (t *ftree) set(n int32, c *layers.Change, mark bool) {
	nd := &t.nodes[n]
	nd.ch = *c
	nd.dir = c.Type == layers.TypeDir
	if mark {
		nd.mark = c.Kind
	}
}

// insert returns the node for path, creating it and its parents.
func (t *ftree) insert(path string) int32 {
	cur := int32(0)
	p := strings.TrimRight(path, "/")
	if p == "" {
		return 0
	}
	if p[0] != '/' {
		p = "/" + p
	}
	slash := strings.LastIndexByte(p, '/')
	start := 1
	if slash > 0 && t.lastDir != "" && p[:slash] == t.lastDir {
		cur, start = t.lastNode, slash+1
	}
	for start < len(p) {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		name := p[start:end]
		if name == "" || name == "." {
			start = end + 1
			continue
		}
		cur = t.child(cur, name, p[:end])
		if end == slash {
			t.lastDir, t.lastNode = p[:slash], cur
		}
		start = end + 1
	}
	return cur
}

// maxMoved is how many children may be inserted before a sibling (each
// shifts the ones after it) before the tree takes a map instead: a list
// far from name order is not made quadratic.
const maxMoved = 4096

// child returns cur's child called name, creating it (at path) if needed.
func (t *ftree) child(cur int32, name, path string) int32 {
	if t.byKey != nil {
		k := nodeKey{cur, name}
		n, ok := t.byKey[k]
		if !ok {
			n = t.add(cur, name, path, len(t.nodes[cur].children))
			t.byKey[k] = n
		}
		return n
	}
	c := t.nodes[cur].children
	at := len(c)
	if at > 0 {
		last := t.nodes[c[at-1]].name
		switch {
		case name == last:
			return c[at-1]
		case name < last:
			i, found := slices.BinarySearchFunc(c, name, func(n int32, name string) int { return strings.Compare(t.nodes[n].name, name) })
			if found {
				return c[i]
			}
			if t.moved++; t.moved > maxMoved {
				t.unorder()
				return t.child(cur, name, path)
			}
			at = i
		}
	}
	return t.add(cur, name, path, at)
}

// add makes a child of cur, at children[at].
func (t *ftree) add(cur int32, name, path string, at int) int32 {
	n := int32(len(t.nodes))
	t.nodes = append(t.nodes, fnode{name: name, path: path, parent: cur, dir: true, depth: t.nodes[cur].depth + 1})
	p := &t.nodes[cur]
	p.children = slices.Insert(p.children, at, n)
	p.dir = true
	return n
}

// unorder indexes every node by parent and name: from then on children
// are appended as they come and sorted once the tree is built.
func (t *ftree) unorder() {
	t.byKey = make(map[nodeKey]int32, cap(t.nodes))
	for i := 1; i < len(t.nodes); i++ {
		t.byKey[nodeKey{t.nodes[i].parent, t.nodes[i].name}] = int32(i)
	}
}

// sum fills size and kinds bottom-up. Parents always have smaller indexes
// than their children, so one reverse pass is enough.
func (t *ftree) sum(_ int32) {
	for i := len(t.nodes) - 1; i >= 0; i-- {
		nd := &t.nodes[i]
		if nd.ch.Type == layers.TypeRegular && nd.mark != layers.Deleted {
			nd.size += nd.ch.Size
		}
		if nd.mark != 0 {
			nd.kinds[nd.mark]++
			nd.kinds[0]++
		}
		if nd.parent >= 0 {
			p := &t.nodes[nd.parent]
			p.size += nd.size
			for k := range nd.kinds {
				p.kinds[k] += nd.kinds[k]
			}
		}
	}
}

// sortBy orders every directory's children by name, or by size (largest
// first) when bySize.
func (t *ftree) sortBy(bySize bool) {
	for i := range t.nodes {
		c := t.nodes[i].children
		if len(c) < 2 {
			continue
		}
		if bySize {
			slices.SortFunc(c, func(a, b int32) int {
				sa, sb := t.nodes[a].size, t.nodes[b].size
				switch {
				case sa > sb:
					return -1
				case sa < sb:
					return 1
				}
				return strings.Compare(t.nodes[a].name, t.nodes[b].name)
			})
		} else {
			slices.SortFunc(c, func(a, b int32) int { return strings.Compare(t.nodes[a].name, t.nodes[b].name) })
		}
	}
}
