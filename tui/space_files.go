package tui

import (
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/space"
	"github.com/strata-build/strata/layers"
)

// wasteFor is what the analysis says of the paths of a step's layer, nil
// when there is no analysis or the layer is not in the analysed image.
func (m *model) wasteFor(snap *event.Snapshot) map[string]space.PathWaste {
	a := m.space.Analysis()
	if a == nil || snap == nil || snap.DiffID.Hex == "" {
		return nil
	}
	i := a.LayerOf(snap.DiffID.String())
	if i < 0 {
		return nil
	}
	return a.ByPath(i)
}

// wasteSize is the size the Files tab shows for a deleted entry: the
// bytes the deletion left shipped in the layers below (-1: not known).
func (m filesModel) wasteSize(nd *fnode) int64 {
	if w, ok := m.waste[nd.path]; ok && nd.mark == layers.Deleted && w.Killed > 0 {
		return w.Killed
	}
	return -1
}

// wasteTail is the waste marker of an entry: its bytes are dead in the
// final image (a later step deletes or replaces them), or this step
// ships again bytes an earlier layer still holds.
func (m filesModel) wasteTail(nd *fnode) string {
	w, ok := m.waste[nd.path]
	if !ok {
		return ""
	}
	switch {
	case w.Dead > 0 && w.Kind == space.Duplicate:
		return " ✗ " + humanBytes(w.Dead) + " duplicate: shipped twice"
	case w.Dead > 0:
		return " ✗ " + humanBytes(w.Dead) + " wasted: " + string(w.Kind) + " later"
	case w.Killed > 0 && nd.mark == layers.Deleted:
		return " ✗ still shipped below"
	case w.Killed > 0:
		return " ✗ " + humanBytes(w.Killed) + " shipped twice (" + string(w.Kind) + ")"
	}
	return ""
}

// revealPath puts the cursor on path once the tree is loaded, opening
// the directories above it.
func (m *filesModel) revealPending() {
	p := m.reveal1
	if p == "" || m.tree == nil {
		return
	}
	m.reveal1 = ""
	for n := range m.tree.nodes {
		if m.tree.nodes[n].path != p {
			continue
		}
		for a := m.tree.nodes[n].parent; a > 0 && int(a) < len(m.expanded); a = m.tree.nodes[a].parent {
			m.expanded[a] = true
		}
		if len(m.expanded) > 0 {
			m.expanded[0] = true
		}
		m.flatten()
		m.reveal(int32(n))
		return
	}
}
