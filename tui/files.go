package tui

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/space"
	"github.com/strata-build/strata/layers"
)

// filesKeyMap are the keys of the Files tab.
type filesKeyMap struct {
	navKeyMap
	Open     key.Binding
	Collapse key.Binding
	Expand   key.Binding
	Filter   key.Binding
	Sort     key.Binding
	Whole    key.Binding
	Search   key.Binding
	Clear    key.Binding
}

// defaultFilesKeyMap returns the Files tab keys.
func defaultFilesKeyMap() filesKeyMap {
	return filesKeyMap{
		navKeyMap: defaultNavKeyMap(),
		Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open/fold")),
		Collapse:  key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "collapse")),
		Expand:    key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "expand")),
		Filter:    key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "filter kind")),
		Sort:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "order size/name")),
		Whole:     key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "step/whole fs")),
		Search:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Clear:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear search")),
	}
}

// fileFilter selects which entries the Files tab lists.
type fileFilter int

const (
	filterAll fileFilter = iota
	filterChanged
	filterAdded
	filterModified
	filterDeleted
)

func (f fileFilter) String() string {
	return [...]string{"all", "changed", "added", "modified", "deleted"}[f]
}

// filesModel is the change tree of a snapshot: this step's changes, or the
// whole filesystem at the snapshot with the changes marked.
type filesModel struct {
	c       *common
	be      Backend
	keys    filesKeyMap
	w, h    int
	focused bool

	step  int
	snap  *event.Snapshot
	whole bool
	unit  string // what a snapshot is of: "step", or "layer" when inspecting

	// fixed: the tree was made elsewhere (the Compare tab's difference of
	// two snapshots); base is the snapshot files are diffed against.
	fixed    bool
	base     *event.Snapshot
	baseName string

	tree      *ftree
	treeSnap  *event.Snapshot
	treeWhole bool
	loading   bool
	err       string
	seq       int
	fetching  string // a layer's download, while the tree waits for it (layerfetch.go)

	expanded []bool
	filter   fileFilter
	bySize   bool
	input    lineInput
	query    string
	qmatch   []bool
	vis      []int32
	cursor   int
	off      int

	// waste is the Space analysis of this step's layer by path (nil
	// when none); reveal1 a path to put the cursor on once loaded
	// (space_files.go).
	waste   map[string]space.PathWaste
	reveal1 string
}

func newFiles(c *common, be Backend) filesModel {
	return filesModel{c: c, be: be, keys: defaultFilesKeyMap(), step: -1, unit: "step"}
}

type filesLoadedMsg struct {
	seq   int
	snap  *event.Snapshot
	whole bool
	tree  *ftree
	err   error
}

// openFileMsg asks the root to show a file in the File tab.
type openFileMsg struct {
	step int
	snap *event.Snapshot
	ch   layers.Change // Path set; Kind is the mark (0 when unchanged)
	unit string        // "step", or "layer" when inspecting
	// base, when set, is what the file is compared with instead of the
	// snapshot's parent (the Compare tab), named baseName.
	base     *event.Snapshot
	baseName string
}

// noChange says why a snapshot has no change list.
func noChange(unit string) string {
	if unit == "layer" {
		return "no filesystem change: this history entry made no layer, it only changed the image config (see Config)."
	}
	return "no filesystem change: this step only changed the image config (see Config)."
}

// SetSize sets the content size.
func (m *filesModel) SetSize(w, h int) {
	m.w, m.h = w, h
	m.off = scrollTo(m.cursor, m.off, m.body(), len(m.vis))
}

// SetFocus marks the pane focused.
func (m *filesModel) SetFocus(f bool) { m.focused = f }

// Capturing is true while the search input takes every key.
func (m filesModel) Capturing() bool { return m.input.active }

func (m filesModel) body() int {
	h := m.h - 1
	if m.input.active {
		h--
	}
	return max(1, h)
}

// SetStep points the tab at a step's snapshot; Load fetches it.
func (m *filesModel) SetStep(step int, snap *event.Snapshot) {
	m.step, m.snap = step, snap
}

// SetTree shows a tree made elsewhere: the difference between base and
// snap (the Compare tab). It stays until the next SetTree.
func (m *filesModel) SetTree(snap, base *event.Snapshot, baseName string, t *ftree) {
	m.fixed, m.snap, m.base, m.baseName, m.whole = true, snap, base, baseName, false
	m.step = -1
	m.seq++
	m.treeSnap, m.treeWhole = snap, false
	m.loaded(filesLoadedMsg{seq: m.seq, snap: snap, tree: t})
}

// Load returns the Cmd that builds the tree when what is shown is stale.
func (m *filesModel) Load() tea.Cmd {
	if m.fixed || m.snap == nil || (m.tree != nil && m.treeSnap == m.snap && m.treeWhole == m.whole) {
		return nil
	}
	if m.loading && m.treeSnap == m.snap && m.treeWhole == m.whole {
		return nil
	}
	m.seq++
	m.loading, m.err, m.fetching = true, "", ""
	m.treeSnap, m.treeWhole = m.snap, m.whole
	if cmd := m.startFetch(); cmd != nil {
		return cmd
	}
	return loadTree(m.be, m.seq, m.snap, m.whole)
}

func loadTree(be Backend, seq int, snap *event.Snapshot, whole bool) tea.Cmd {
	return func() tea.Msg {
		if !whole {
			if cs, ok := be.(changeStreamer); ok && snap.Changes == nil && snap.DiffID.Hex != "" {
				t, err := streamTree(snap.Files, func(fn func(*layers.Change) error) error { return cs.EachStepChange(snap, fn) })
				return filesLoadedMsg{seq: seq, snap: snap, tree: t, err: err}
			}
		} else if ts, ok := be.(treeStreamer); ok {
			t, err := streamWhole(ts.TreeSize(snap),
				func(fn func(*layers.Change) error) error { return ts.EachTreeEntry(snap, fn) },
				func(fn func(*layers.Change) error) error { return ts.EachStepChange(snap, fn) })
			if !errors.Is(err, layers.ErrNoMerge) {
				return filesLoadedMsg{seq: seq, snap: snap, whole: true, tree: t, err: err}
			}
			// a change list out of walk order, a failed RUN's upper dir: the walk
		}
		changes, err := stepChanges(be, snap)
		if err != nil {
			return filesLoadedMsg{seq: seq, snap: snap, whole: whole, err: err}
		}
		if !whole {
			return filesLoadedMsg{seq: seq, snap: snap, tree: buildTree(changes, nil)}
		}
		marks := changes
		if marks == nil {
			marks = []layers.Change{}
		}
		all, err := be.Tree(snap)
		if err != nil {
			return filesLoadedMsg{seq: seq, snap: snap, whole: true, err: err}
		}
		return filesLoadedMsg{seq: seq, snap: snap, whole: true, tree: buildTree(all, marks)}
	}
}

func (m *filesModel) loaded(msg filesLoadedMsg) {
	if msg.seq != m.seq {
		return
	}
	m.loading = false
	if msg.err != nil {
		m.err = msg.err.Error()
		m.tree = nil
		return
	}
	m.tree = msg.tree
	m.bySize = false
	m.query, m.qmatch = "", nil
	m.cursor, m.off = 0, 0
	m.defaultExpand()
	m.flatten()
	m.revealPending()
}

// defaultExpand opens small trees fully; large ones down to where the
// changes are, a few levels deep.
func (m *filesModel) defaultExpand() {
	n := len(m.tree.nodes)
	if cap(m.expanded) >= n {
		m.expanded = m.expanded[:n]
		clear(m.expanded)
	} else {
		m.expanded = make([]bool, n)
	}
	small := n <= 2000
	for i := range m.tree.nodes {
		nd := &m.tree.nodes[i]
		if !nd.dir {
			continue
		}
		switch {
		case m.treeWhole:
			m.expanded[i] = nd.kinds[0] > 0 && (small || nd.depth < 4)
		default:
			m.expanded[i] = small || nd.depth < 3
		}
	}
	m.expanded[0] = true
}

func (m *filesModel) keep(n int32) bool {
	nd := &m.tree.nodes[n]
	switch m.filter {
	case filterChanged:
		if nd.kinds[0] == 0 {
			return false
		}
	case filterAdded, filterModified, filterDeleted:
		if nd.kinds[m.filter-1] == 0 {
			return false
		}
	}
	return m.qmatch == nil || m.qmatch[n]
}

// flatten lists the visible rows: depth first, folded directories skipped.
func (m *filesModel) flatten() {
	m.vis = m.vis[:0]
	if m.tree == nil {
		return
	}
	searching := m.qmatch != nil
	var walk func(n int32)
	walk = func(n int32) {
		for _, c := range m.tree.nodes[n].children {
			if !m.keep(c) {
				continue
			}
			m.vis = append(m.vis, c)
			if m.tree.nodes[c].dir && (m.expanded[c] || searching) {
				walk(c)
			}
		}
	}
	walk(0)
	m.cursor = clamp(m.cursor, 0, max(0, len(m.vis)-1))
	m.off = scrollTo(m.cursor, m.off, m.body(), len(m.vis))
}

// setQuery filters the tree to names containing q (and their parents).
func (m *filesModel) setQuery(q string) {
	m.query = q
	if q == "" || m.tree == nil {
		m.qmatch = nil
		m.flatten()
		return
	}
	mt := newMatcher(q)
	qm := make([]bool, len(m.tree.nodes))
	for i := len(m.tree.nodes) - 1; i > 0; i-- {
		nd := &m.tree.nodes[i]
		if qm[i] || mt.match(nd.name) {
			qm[i] = true
			qm[nd.parent] = true
		}
	}
	m.qmatch = qm
	m.cursor = 0
	m.flatten()
	// put the cursor on the first real match
	for i, n := range m.vis {
		if mt.match(m.tree.nodes[n].name) {
			m.cursor = i
			break
		}
	}
	m.off = scrollTo(m.cursor, m.off, m.body(), len(m.vis))
}

// Update handles keys and loaded trees.
func (m filesModel) Update(msg tea.Msg) (filesModel, tea.Cmd) {
	switch msg := msg.(type) {
	case filesLoadedMsg:
		m.loaded(msg)
	case layerFetchMsg:
		return m, m.fetched(msg)
	case tea.KeyPressMsg:
		if m.input.active {
			switch m.input.update(msg) {
			case inputChanged:
				m.setQuery(m.input.value)
			case inputCanceled:
				m.setQuery("")
			}
			return m, nil
		}
		return m.keyPress(msg)
	}
	return m, nil
}

func (m filesModel) keyPress(msg tea.KeyPressMsg) (filesModel, tea.Cmd) {
	if key.Matches(msg, m.keys.Whole) && !m.fixed {
		m.whole = !m.whole
		return m, m.Load()
	}
	if m.tree == nil {
		return m, nil
	}
	if cur, ok := navDelta(m.keys.navKeyMap, msg, m.cursor, len(m.vis), m.body()); ok {
		m.cursor = cur
		m.off = scrollTo(m.cursor, m.off, m.body(), len(m.vis))
		return m, nil
	}
	switch {
	case key.Matches(msg, m.keys.Open):
		return m, m.open()
	case key.Matches(msg, m.keys.Expand):
		m.fold(true)
	case key.Matches(msg, m.keys.Collapse):
		m.fold(false)
	case key.Matches(msg, m.keys.Filter):
		m.filter = (m.filter + 1) % 5
		if m.filter == filterChanged && !m.treeWhole {
			m.filter = filterAdded // every entry is a change already
		}
		m.flatten()
	case key.Matches(msg, m.keys.Sort):
		m.bySize = !m.bySize
		cur := m.current()
		m.tree.sortBy(m.bySize)
		m.flatten()
		m.reveal(cur)
	case key.Matches(msg, m.keys.Search):
		m.input.start("/", m.query)
	case key.Matches(msg, m.keys.Clear):
		m.setQuery("")
	}
	return m, nil
}

func (m filesModel) current() int32 {
	if m.cursor >= 0 && m.cursor < len(m.vis) {
		return m.vis[m.cursor]
	}
	return -1
}

// reveal puts the cursor on node n when it is visible.
func (m *filesModel) reveal(n int32) {
	for i, v := range m.vis {
		if v == n {
			m.cursor = i
			break
		}
	}
	m.off = scrollTo(m.cursor, m.off, m.body(), len(m.vis))
}

func (m *filesModel) fold(open bool) {
	n := m.current()
	if n < 0 {
		return
	}
	nd := &m.tree.nodes[n]
	if nd.dir && m.expanded[n] != open && len(nd.children) > 0 {
		m.expanded[n] = open
		m.flatten()
		return
	}
	if !open && nd.parent > 0 { // on a leaf or a folded dir: go to the parent
		m.reveal(nd.parent)
	}
}

func (m *filesModel) open() tea.Cmd {
	n := m.current()
	if n < 0 {
		return nil
	}
	nd := &m.tree.nodes[n]
	if nd.dir {
		m.expanded[n] = !m.expanded[n]
		m.flatten()
		return nil
	}
	ch := nd.ch
	ch.Path, ch.Kind = nd.path, nd.mark
	msg := openFileMsg{step: m.step, snap: m.treeSnap, ch: ch, unit: m.unit, base: m.base, baseName: m.baseName}
	return func() tea.Msg { return msg }
}

// Click moves the cursor to the clicked row (a second click opens it).
func (m *filesModel) Click(row int) tea.Cmd {
	i := m.off + row - 1 // row 0 is the header
	if i < 0 || i >= len(m.vis) {
		return nil
	}
	if i == m.cursor {
		return m.open()
	}
	m.cursor = i
	return nil
}

// Scroll moves the cursor by n rows.
func (m *filesModel) Scroll(n int) {
	m.cursor = clamp(m.cursor+n, 0, max(0, len(m.vis)-1))
	m.off = scrollTo(m.cursor, m.off, m.body(), len(m.vis))
}

func (m filesModel) header() string {
	st := &m.c.st
	if m.tree == nil {
		return ""
	}
	s := m.tree.stats
	what := "this " + m.unit
	switch {
	case m.fixed:
		what = "files"
	case m.treeWhole:
		what = "whole filesystem"
	}
	counts := st.added.Render("+"+itoa(s.Added)) + " " + st.modified.Render("~"+itoa(s.Modified)) + " " +
		st.deleted.Render("-"+itoa(s.Deleted)) + " " + humanBytes(s.Bytes) + " content"
	left := st.bold.Render(what) + ": " + counts
	if m.treeWhole && !m.fixed && len(m.tree.nodes) > 0 {
		// the whole tree's own figures; the marks are this step's changes
		left = st.bold.Render(what) + " " + humanBytes(m.tree.nodes[0].size) + " · this " + m.unit + ": " + counts
	}
	sort := "name"
	if m.bySize {
		sort = "size"
	}
	right := "filter " + m.filter.String() + " · sort " + sort
	if m.query != "" && !m.input.active {
		right = "/" + m.query + " · " + right
	}
	return leftRight(left, st.dim.Render(" "+right), m.w)
}

// View renders the tab.
func (m filesModel) View() string {
	st := &m.c.st
	lines := make([]string, 0, m.h)
	switch {
	case m.snap == nil:
		lines = append(lines, st.dim.Render("no snapshot yet: the step has not finished"))
	case m.loading && m.fetching != "" && m.treeSnap == m.snap && m.treeWhole == m.whole:
		lines = append(lines, st.dim.Render(m.fetching+"…"))
	case m.loading || m.treeSnap != m.snap || m.treeWhole != m.whole:
		lines = append(lines, st.dim.Render("loading…"))
	case m.err != "":
		lines = append(lines, st.failed.Render("files: "+m.err))
	case m.tree == nil:
		lines = append(lines, st.dim.Render("loading…"))
	case m.fixed && len(m.tree.nodes) <= 1:
		lines = append(lines, m.header(), st.dim.Render("no file differs between the two snapshots."))
	case !m.fixed && !m.treeWhole && len(m.tree.nodes) <= 1:
		lines = append(lines, m.header(),
			st.dim.Render(noChange(m.unit)),
			st.dim.Render("press w to browse the whole filesystem at this snapshot."))
	default:
		lines = append(lines, m.header())
		body := m.body()
		ownW := 0 // the owner column, as wide as the widest owner shown
		if m.w >= 70 {
			ownW = 9
			for i := m.off; i < len(m.vis) && i < m.off+body; i++ {
				ownW = max(ownW, len(m.owner(m.vis[i]))+1)
			}
		}
		for i := m.off; i < len(m.vis) && len(lines) < body+1; i++ {
			lines = append(lines, m.row(m.vis[i], i == m.cursor, ownW))
		}
		if len(m.vis) == 0 {
			lines = append(lines, st.dim.Render("nothing matches"))
		}
	}
	if m.input.active {
		for len(lines) < m.h-1 {
			lines = append(lines, "")
		}
		lines = append(lines, m.input.view(st, m.w))
	}
	return strings.Join(lines, "\n")
}

// owner is an entry's "uid:gid" ("" for a synthesized directory or a
// deleted entry).
func (m filesModel) owner(n int32) string {
	nd := &m.tree.nodes[n]
	if nd.ch.Path == "" || nd.mark == layers.Deleted {
		return ""
	}
	return itoa(nd.ch.UID) + ":" + itoa(nd.ch.GID)
}

// row is one entry; ownW is the owner column's width, 0 for a row
// without the mode and owner columns (a narrow pane).
func (m filesModel) row(n int32, cur bool, ownW int) string {
	st := &m.c.st
	nd := &m.tree.nodes[n]
	var b strings.Builder
	mark, ms := " ", st.plain
	switch nd.mark {
	case layers.Added:
		mark, ms = "+", st.added
	case layers.Modified:
		mark, ms = "~", st.modified
	case layers.Deleted:
		mark, ms = "-", st.deleted
	default:
		if !m.treeWhole || nd.ch.Path == "" {
			ms = st.dim
		}
	}
	b.WriteString(mark)
	b.WriteByte(' ')
	if ownW > 0 {
		b.WriteString(fit(modeString(nd), 10))
		b.WriteByte(' ')
		b.WriteString(fit(m.owner(n), ownW))
	}
	sz := ""
	if nd.mark != layers.Deleted && (nd.dir || nd.ch.Type == layers.TypeRegular) {
		sz = humanBytes(nd.size)
	} else if n := m.wasteSize(nd); n >= 0 {
		sz = humanBytes(n)
	}
	b.WriteString(strings.Repeat(" ", max(0, 9-len(sz))))
	b.WriteString(sz)
	b.WriteString("  ")
	b.WriteString(strings.Repeat("  ", int(nd.depth-1)))
	name := nd.name
	if nd.dir {
		if m.expanded[n] || m.qmatch != nil {
			b.WriteString("▾ ")
		} else {
			b.WriteString("▸ ")
		}
		name += "/"
	} else {
		b.WriteString("  ")
	}
	plain := b.String()
	tail := ""
	if (nd.ch.Type == layers.TypeSymlink || nd.ch.Type == layers.TypeHardlink) && nd.ch.Linkname != "" {
		tail = " → " + nd.ch.Linkname
	}
	if nd.ch.Opaque {
		tail += " (opaque)"
	}
	tail += m.wasteTail(nd)
	if cur {
		s := st.selected
		if !m.focused {
			s = st.selectedBlur
		}
		return s.Render(fit(plain+name+tail, m.w))
	}
	return fit(ms.Render(plain)+ms.Render(name)+st.dim.Render(tail), m.w)
}

// modeString is an entry's mode as ls -l prints it ("drwxrwxrwt").
func modeString(nd *fnode) string {
	if nd.ch.Path == "" || nd.mark == layers.Deleted {
		if nd.dir && nd.ch.Path == "" {
			return "d"
		}
		return ""
	}
	return layers.ModeString(nd.ch.Type, nd.ch.Mode)
}
