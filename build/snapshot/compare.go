package snapshot

import (
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// Compare lists how snapshot b's filesystem differs from a's, as changes
// that turn a into b. When a is an ancestor of b (its layers a prefix of
// b's) the stored change lists of the layers between are merged, with no
// walk; otherwise both trees are walked and compared entry by entry.
func (b *Backend) Compare(a, bs *event.Snapshot) ([]layers.Change, error) {
	if b == nil || b.Store == nil || a == nil || bs == nil {
		return nil, fmt.Errorf("compare: two snapshots are needed")
	}
	if err := b.ready(a, bs); err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	if a.UpperDir == "" && bs.UpperDir == "" && len(a.Layers) <= len(bs.Layers) && slices.Equal(a.Layers, bs.Layers[:len(a.Layers)]) {
		return b.mergeChanges(bs.Layers, len(a.Layers))
	}
	if a.UpperDir == "" && bs.UpperDir == "" && len(bs.Layers) < len(a.Layers) && slices.Equal(bs.Layers, a.Layers[:len(bs.Layers)]) {
		// b is an ancestor of a: the same changes, turned around.
		fwd, err := b.mergeChanges(a.Layers, len(bs.Layers))
		if err != nil {
			return nil, err
		}
		return b.reverse(fwd, bs)
	}
	return b.walkCompare(a, bs)
}

// mergeChanges merges the change lists of chain[from:] (a layer's list
// is read from its tar when strata did not make it: a pulled or shared
// cache layer, with the layers below it telling added from modified).
func (b *Backend) mergeChanges(chain []v1.Hash, from int) ([]layers.Change, error) {
	m := map[string]layers.Change{}
	for i, d := range chain[from:] {
		cs, err := b.Store.ChangeList(d, chain[:from+i])
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d, err)
		}
		for _, c := range cs {
			prev, seen := m[c.Path]
			switch {
			case !seen:
			case prev.Kind == layers.Added && c.Kind == layers.Deleted:
				delete(m, c.Path)
				continue
			case prev.Kind == layers.Added:
				c.Kind = layers.Added
			case prev.Kind == layers.Deleted && c.Kind == layers.Added:
				c.Kind = layers.Modified
			}
			if c.Kind == layers.Deleted {
				// Whatever was below a deleted directory is gone too.
				for p := range m {
					if strings.HasPrefix(p, c.Path+"/") {
						delete(m, p)
					}
				}
			}
			m[c.Path] = c
		}
	}
	return sortedChanges(m), nil
}

// reverse turns changes a→b into b→a, describing entries as they are in
// the snapshot "to".
func (b *Backend) reverse(fwd []layers.Change, to *event.Snapshot) ([]layers.Change, error) {
	v := b.View(to)
	var out []layers.Change
	for _, c := range fwd {
		switch c.Kind {
		case layers.Added:
			c.Kind = layers.Deleted
			out = append(out, c)
		case layers.Deleted, layers.Modified:
			e, err := v.Lstat(c.Path)
			if err != nil {
				continue
			}
			rc := entryChange(v, e)
			rc.Kind = layers.Modified
			if c.Kind == layers.Deleted {
				rc.Kind = layers.Added
			}
			out = append(out, rc)
		}
	}
	return out, nil
}

func (b *Backend) walkCompare(a, bs *event.Snapshot) ([]layers.Change, error) {
	ta, err := b.treeMap(a)
	if err != nil {
		return nil, err
	}
	tb, err := b.treeMap(bs)
	if err != nil {
		return nil, err
	}
	m := map[string]layers.Change{}
	for p, cb := range tb {
		ca, ok := ta[p]
		switch {
		case !ok:
			cb.Kind = layers.Added
			m[p] = cb
		case ca.Type != cb.Type || ca.Mode != cb.Mode || ca.UID != cb.UID || ca.GID != cb.GID || ca.Size != cb.Size ||
			ca.Linkname != cb.Linkname || (cb.Type == layers.TypeRegular && !ca.ModTime.Equal(cb.ModTime)):
			cb.Kind = layers.Modified
			m[p] = cb
		}
	}
	for p, ca := range ta {
		if _, ok := tb[p]; !ok {
			ca.Kind = layers.Deleted
			m[p] = ca
		}
	}
	return sortedChanges(m), nil
}

func (b *Backend) treeMap(s *event.Snapshot) (map[string]layers.Change, error) {
	m := map[string]layers.Change{}
	v := b.View(s)
	err := v.Walk("/", func(e *layers.Entry) error {
		if e.Path != "/" {
			m[e.Path] = entryChange(v, e)
		}
		return nil
	})
	return m, err
}

// entryChange describes an entry of the view v as a change record (kind
// Added). A symlink's target is read beneath its layer (a snapshot's view
// may hold a failed RUN's upper dir).
func entryChange(v *layers.View, e *layers.Entry) layers.Change {
	c := layers.Change{Path: e.Path, Kind: layers.Added, Mode: e.Info.Mode(), ModTime: e.Info.ModTime()}
	if st, ok := e.Info.Sys().(*syscall.Stat_t); ok {
		c.UID, c.GID = int(st.Uid), int(st.Gid)
	}
	switch m := e.Info.Mode(); {
	case m.IsDir():
		c.Type = layers.TypeDir
	case m&fs.ModeSymlink != 0:
		c.Type = layers.TypeSymlink
		c.Linkname, _ = v.Readlink(e)
	case m&fs.ModeNamedPipe != 0:
		c.Type = layers.TypeFIFO
	case m&fs.ModeCharDevice != 0:
		c.Type = layers.TypeChar
	case m&fs.ModeDevice != 0:
		c.Type = layers.TypeBlock
	case m&fs.ModeSocket != 0:
		c.Type = layers.TypeSocket
	default:
		c.Type = layers.TypeRegular
		c.Size = e.Info.Size()
	}
	return c
}

func sortedChanges(m map[string]layers.Change) []layers.Change {
	out := make([]layers.Change, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// ConfigChange is one field of the image config that differs.
type ConfigChange struct {
	Field string // "Env PATH", "Cmd", "Labels version", ...
	Old   string // "" when added
	New   string // "" when removed
}

// DiffConfig lists what differs between two image configs, field by
// field (Env, Labels, ExposedPorts and Volumes key by key), in a stable
// order. History and rootfs are left out: they differ by construction.
func DiffConfig(a, b *v1.ConfigFile) []ConfigChange {
	var ca, cb v1.Config
	if a != nil {
		ca = a.Config
	}
	if b != nil {
		cb = b.Config
	}
	var out []ConfigChange
	str := func(field, x, y string) {
		if x != y {
			out = append(out, ConfigChange{Field: field, Old: x, New: y})
		}
	}
	list := func(l []string) string {
		if l == nil {
			return ""
		}
		return fmt.Sprintf("%q", l)
	}
	str("Entrypoint", list(ca.Entrypoint), list(cb.Entrypoint))
	str("Cmd", list(ca.Cmd), list(cb.Cmd))
	str("WorkingDir", ca.WorkingDir, cb.WorkingDir)
	str("User", ca.User, cb.User)
	str("Shell", list(ca.Shell), list(cb.Shell))
	str("StopSignal", ca.StopSignal, cb.StopSignal)
	str("OnBuild", list(ca.OnBuild), list(cb.OnBuild))
	kv := func(l []string) map[string]string {
		m := map[string]string{}
		for _, s := range l {
			k, v, _ := strings.Cut(s, "=")
			m[k] = v
		}
		return m
	}
	mapDiff := func(field string, x, y map[string]string) {
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			str(field+" "+k, x[k], y[k])
		}
	}
	set := func(m map[string]struct{}) map[string]string {
		out := map[string]string{}
		for k := range m {
			out[k] = "yes"
		}
		return out
	}
	mapDiff("Env", kv(ca.Env), kv(cb.Env))
	mapDiff("Labels", ca.Labels, cb.Labels)
	mapDiff("ExposedPorts", set(ca.ExposedPorts), set(cb.ExposedPorts))
	mapDiff("Volumes", set(ca.Volumes), set(cb.Volumes))
	hc := func(h *v1.HealthConfig) string {
		if h == nil {
			return ""
		}
		return fmt.Sprintf("%q interval=%s timeout=%s retries=%d", h.Test, h.Interval, h.Timeout, h.Retries)
	}
	str("Healthcheck", hc(ca.Healthcheck), hc(cb.Healthcheck))
	return out
}
