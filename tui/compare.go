package tui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/snapshot"
)

// compareKeyMap are the keys of the Compare tab: the Files keys for the
// change tree, and v to read the config difference alone.
type compareKeyMap struct {
	filesKeyMap
	Config key.Binding
}

// defaultCompareKeyMap returns the Compare tab keys.
func defaultCompareKeyMap() compareKeyMap {
	fk := defaultFilesKeyMap()
	fk.Whole.SetEnabled(false)
	return compareKeyMap{
		filesKeyMap: fk,
		Config:      key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "files/config")),
	}
}

// snapRef names a snapshot the user picked to compare: the snapshot, the
// row it was on and what it was when picked (time and size for deltas).
type snapRef struct {
	snap  *event.Snapshot
	label string
	// dur and size are the step's time and layer size; built is false
	// for a cached step (its time says nothing).
	dur   time.Duration
	size  int64
	built bool
	step  int // the plan step of the row, -1 for another row
}

// refOf makes a snapRef of row r, labelled with prefix.
func refOf(r *stepRec, prefix string) snapRef {
	l := r.label()
	if prefix != "" {
		l = prefix + " " + l
	}
	step := -1
	if r.kind == recStep {
		step = r.info.Index
	}
	return snapRef{snap: r.snap, label: l, dur: r.duration, size: r.size, built: r.status == statusBuilt || r.status == statusFailed, step: step}
}

// compareLoadedMsg carries the difference of two snapshots.
type compareLoadedMsg struct {
	seq  int
	tree *ftree
	err  error
}

// compareModel is the Compare tab: how snapshot b differs from a, as a
// change tree like the Files tab, plus the config fields that differ and,
// for two runs of one step, how its time and size moved.
type compareModel struct {
	c       *common
	be      Backend
	keys    compareKeyMap
	w, h    int
	focused bool

	a, b    snapRef
	active  bool
	loading bool
	err     string
	seq     int
	cfg     []snapshot.ConfigChange
	deltas  string // "time 1.1s → 2.3s (+1.2s) · size …" for one step twice

	files      filesModel
	configOnly bool
	off        int // scroll of the config list when configOnly

	// same is true for one step in two builds (M); after a rebuild,
	// redo is that step, compared again when the new build ends (-1:
	// none), and outdated says why the tab shows no comparison.
	same     bool
	redo     int
	outdated string
}

func newCompare(c *common, be Backend) compareModel {
	m := compareModel{c: c, be: be, keys: defaultCompareKeyMap(), files: newFiles(c, be), redo: -1}
	m.files.keys = m.keys.filesKeyMap
	m.files.unit = "comparison"
	return m
}

// SetSize sets the content size.
func (m *compareModel) SetSize(w, h int) {
	m.w, m.h = w, h
	m.files.SetSize(w, max(1, h-m.headRows()))
}

// SetFocus marks the pane focused.
func (m *compareModel) SetFocus(f bool) { m.focused = f; m.files.SetFocus(f) }

// Capturing is true while the tree's search input takes every key.
func (m compareModel) Capturing() bool { return !m.configOnly && m.files.Capturing() }

// Start compares a with b; the file difference loads in a Cmd. sameStep
// says a and b are one step in two builds: their time and size compare.
func (m *compareModel) Start(a, b snapRef, sameStep bool) tea.Cmd {
	m.a, m.b, m.active, m.loading, m.err = a, b, true, true, ""
	m.same, m.redo, m.outdated = sameStep, -1, ""
	m.configOnly, m.off = false, 0
	m.cfg = snapshot.DiffConfig(configOf(a.snap), configOf(b.snap))
	m.deltas = ""
	switch {
	case !sameStep:
	case a.built && b.built:
		m.deltas = "time " + humanDuration(a.dur) + " → " + humanDuration(b.dur) + " (" + signedDuration(b.dur-a.dur) + ")"
	case !a.built && !b.built:
		m.deltas = "time: both from cache"
	default:
		m.deltas = "time: " + builtWord(a) + " → " + builtWord(b)
	}
	if sameStep && (a.size != b.size || a.size > 0) {
		if m.deltas != "" {
			m.deltas += " · "
		}
		m.deltas += "layer " + humanBytes(a.size) + " → " + humanBytes(b.size) + " (" + signedBytes(b.size-a.size) + ")"
	}
	m.SetSize(m.w, m.h)
	m.seq++
	be, seq, sa, sb := m.be, m.seq, a.snap, b.snap
	return func() tea.Msg {
		if be == nil {
			return compareLoadedMsg{seq: seq, err: errNoBackend}
		}
		ch, err := be.Compare(sa, sb)
		if err != nil {
			return compareLoadedMsg{seq: seq, err: err}
		}
		return compareLoadedMsg{seq: seq, tree: buildTree(ch, nil)}
	}
}

func (m *compareModel) loaded(msg compareLoadedMsg) {
	if msg.seq != m.seq {
		return
	}
	m.loading = false
	if msg.err != nil {
		m.err = msg.err.Error()
		return
	}
	m.files.SetTree(m.b.snap, m.a.snap, "A ("+m.a.label+")", msg.tree)
}

// Update handles keys.
func (m compareModel) Update(msg tea.Msg) (compareModel, tea.Cmd) {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		var cmd tea.Cmd
		m.files, cmd = m.files.Update(msg)
		return m, cmd
	}
	if !m.files.Capturing() && key.Matches(km, m.keys.Config) {
		m.configOnly = !m.configOnly
		m.off = 0
		return m, nil
	}
	if m.configOnly {
		n := len(m.configLines(m.w))
		body := max(1, m.h-2)
		if off, ok := navDelta(m.keys.navKeyMap, km, m.off, max(1, n-body+1), body); ok {
			m.off = off
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.files, cmd = m.files.Update(msg)
	return m, cmd
}

// Click passes a click on row to the tree.
func (m *compareModel) Click(row int) tea.Cmd {
	if m.configOnly || !m.active {
		return nil
	}
	return m.files.Click(row - m.headRows())
}

// Scroll moves the tree or the config list.
func (m *compareModel) Scroll(n int) {
	if m.configOnly {
		m.off = clamp(m.off+n, 0, max(0, len(m.configLines(m.w))-(m.h-2)))
		return
	}
	m.files.Scroll(n)
}

// cfgBudget is how many rows the config difference takes above the tree.
func (m compareModel) cfgBudget() int {
	return max(2, (m.h-2)/3)
}

// headRows is how many rows come before the tree.
func (m compareModel) headRows() int {
	n := 2 // A and B
	if m.deltas != "" {
		n++
	}
	return n + min(len(m.configLines(m.w)), m.cfgBudget())
}

// configLines is the config difference, a heading first.
func (m compareModel) configLines(w int) []string {
	st := &m.c.st
	if len(m.cfg) == 0 {
		return []string{st.dim.Render("config: the same")}
	}
	verb := " differ"
	if len(m.cfg) == 1 {
		verb = " differs"
	}
	out := []string{st.bold.Render("config: ") + plural(len(m.cfg), "field") + verb}
	for _, c := range m.cfg {
		old, nw := c.Old, c.New
		mark, s := "~", st.modified
		switch {
		case old == "":
			mark, s, old = "+", st.added, "(unset)"
		case nw == "":
			mark, s, nw = "-", st.deleted, "(unset)"
		}
		out = append(out, wrap(s.Render(mark+" "+c.Field)+"  "+sanitize(old)+" → "+sanitize(nw), max(10, w), "      ")...)
	}
	return out
}

// View renders the tab.
func (m compareModel) View() string {
	st := &m.c.st
	if !m.active && m.outdated != "" {
		return strings.Join(wrap(st.dim.Render(m.outdated), max(10, m.w), ""), "\n")
	}
	if !m.active {
		return strings.Join(wrap(st.dim.Render("nothing compared yet: press m on a step to mark its snapshot, then = on another "+
			"(or m again); M compares the selected step with the same step of the previous build."), max(10, m.w), ""), "\n")
	}
	lines := []string{
		fit(st.dim.Render("A ")+st.bold.Render(m.a.label), m.w),
		fit(st.dim.Render("B ")+st.bold.Render(m.b.label), m.w),
	}
	if m.deltas != "" {
		lines = append(lines, fit(st.dim.Render(m.deltas), m.w))
	}
	cl := m.configLines(m.w)
	if m.configOnly {
		body := max(1, m.h-len(lines))
		off := clamp(m.off, 0, max(0, len(cl)-body))
		for i := off; i < len(cl) && len(lines) < m.h; i++ {
			lines = append(lines, fit(cl[i], m.w))
		}
		return strings.Join(lines, "\n")
	}
	if b := m.cfgBudget(); len(cl) > b {
		more := len(cl) - (b - 1)
		cl = append(cl[:b-1:b-1], st.dim.Render("  … "+itoa(more)+" more: v shows the config difference alone"))
	}
	for _, l := range cl {
		lines = append(lines, fit(l, m.w))
	}
	switch {
	case m.err != "":
		lines = append(lines, st.failed.Render(fit("compare: "+m.err, m.w)))
	case m.loading:
		lines = append(lines, st.dim.Render("comparing…"))
	default:
		lines = append(lines, m.files.View())
	}
	return strings.Join(lines, "\n")
}

func builtWord(r snapRef) string {
	if r.built {
		return "built in " + humanDuration(r.dur)
	}
	return "from cache"
}

// signedDuration is "+1.2s" or "-0.3s".
func signedDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	return "+" + humanDuration(d)
}

// signedBytes is "+340.0 kB" or "-1.2 MB".
func signedBytes(n int64) string {
	if n < 0 {
		return "-" + humanBytes(-n)
	}
	return "+" + humanBytes(n)
}

// rebuildStarted drops a comparison a new build makes out of date (its
// labels name rows of the build before): one step in two builds (M) is
// compared again when the new build ends; two marked snapshots are not.
func (m *compareModel) rebuildStarted() {
	if !m.active {
		return
	}
	m.active, m.loading = false, false
	m.seq++ // a comparison still loading is dropped
	if m.same && m.b.step >= 0 {
		m.redo = m.b.step
		m.outdated = "a rebuild started: the comparison of " + strings.TrimPrefix(m.b.label, "this build ") +
			" with the previous build is made again, on the new build, when it ends."
		return
	}
	m.outdated = "a rebuild started: the comparison of " + m.a.label + " with " + m.b.label +
		" was of the build before it. m marks a snapshot and = compares it with the selected one; M compares the selected step with the previous build."
}

// compareOnEvent keeps the Compare tab true to the build: a rebuild makes
// the comparison out of date; when it ends, an M comparison is made again.
func (m *model) compareOnEvent(ev event.Event) tea.Cmd {
	switch ev.(type) {
	case event.PlanReady, *event.PlanReady:
		if m.b.builds > 1 {
			m.compare.rebuildStarted()
		}
	case event.BuildDone, *event.BuildDone:
		i := m.compare.redo
		if i < 0 {
			return nil
		}
		m.compare.redo = -1
		r, p := m.b.planStep(i), m.b.prevStep(i)
		if r == nil || p == nil || r.snap == nil || p.snap == nil {
			m.compare.outdated = "the rebuild ended without a snapshot of that step in both builds: nothing to compare; M compares the selected step with the previous build."
			return nil
		}
		return m.compare.Start(refOf(p, "previous build"), refOf(r, "this build"), true)
	}
	return nil
}
