package build

import (
	"archive/tar"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
)

// docker's classic --cache-from IMAGE: a plain image that carries no
// strata cache records. Its history and layers are matched step by step
// where strata can prove the match, as docker's classic builder did: the
// step's parent is a prefix of the image (the same layer diffIDs, the same
// history entries, so the same base and every earlier step matched), and
// the image's next history entry is what strata writes for this
// instruction. Then a RUN's result is that entry's layer (a RUN sees only
// its parent, its args and its environment, all of which created_by and
// the parent pin down), and a metadata step's result is its config with
// that entry. A COPY or ADD reads files the image records no checksum of:
// it cannot be proven the same, so it misses and says so. Layers of
// matched steps stay in the registry (layers.RemoteLayer) as for any
// shared cache.

// classicImage is such an image.
type classicImage struct {
	source string
	cfg    *v1.ConfigFile
}

// at is where a step on parent cfg would be in the image: the index of
// its next history entry and of its next layer; false when cfg is not a
// prefix of the image.
func (im *classicImage) at(cfg *v1.ConfigFile) (h, l int, ok bool) {
	h, l = len(cfg.History), len(cfg.RootFS.DiffIDs)
	if h >= len(im.cfg.History) || l > len(im.cfg.RootFS.DiffIDs) || !slices.Equal(cfg.RootFS.DiffIDs, im.cfg.RootFS.DiffIDs[:l]) {
		return 0, 0, false
	}
	for i, e := range cfg.History {
		if e.CreatedBy != im.cfg.History[i].CreatedBy || e.EmptyLayer != im.cfg.History[i].EmptyLayer {
			return 0, 0, false
		}
	}
	return h, l, true
}

// classicLookup matches the step against the plain --cache-from images:
// a hit's entry and where it is from, or why the first image whose
// history reaches this step cannot prove it ("" when none reaches it).
func (e *Executor) classicLookup(st *stageState, step int, c instructions.Command, key string) (*CacheEntry, string, string) {
	if e.Cache == nil {
		return nil, "", ""
	}
	for _, im := range e.Cache.classic {
		h, l, ok := im.at(st.cfg)
		if !ok {
			continue
		}
		ent, why := e.classicStep(im, st, step, c, h, l)
		if ent != nil {
			ent.Key, ent.Step = key, e.Plan.Steps[step].Text
			e.Cache.hits = append(e.Cache.hits, ent) // kept locally once its layers are here (keepHits)
			return ent, im.source, ""
		}
		if why != "" {
			return nil, "", why
		}
	}
	return nil, "", ""
}

func (e *Executor) classicStep(im *classicImage, st *stageState, step int, c instructions.Command, h, l int) (*CacheEntry, string) {
	next := im.cfg.History[h]
	withLayer := func(created string, mut func(*v1.ConfigFile)) (*CacheEntry, string) {
		if next.CreatedBy != created {
			return nil, ""
		}
		cfg := st.cfg.DeepCopy()
		if mut != nil {
			mut(cfg)
		}
		ent := &CacheEntry{Args: slices.Clone(st.args), CmdSet: st.cmdSet, ArgOver: sortedKeys(st.argOver), Created: time.Now().UTC()}
		if !next.EmptyLayer {
			if l >= len(im.cfg.RootFS.DiffIDs) {
				return nil, ""
			}
			d := im.cfg.RootFS.DiffIDs[l]
			if e.Cache.bad[d] || !e.Store.Available(d) {
				return nil, fmt.Sprintf("cache-from %s matches, but its layer %s could not be used (see the warning)", im.source, shortDigest(d.String()))
			}
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, d)
			ent.DiffID = d.String()
		}
		cfg.History = append(cfg.History, next)
		stampCreated(cfg)
		ent.Config = cfg
		return ent, ""
	}
	switch c := c.(type) {
	case *instructions.CopyCommand:
		return nil, fmt.Sprintf("cache-from %s has no checksum for COPY: a plain image records no checksum of the files copied, so this step cannot be proven the same (an image pushed with --cache-to type=inline can)", im.source)
	case *instructions.AddCommand:
		return nil, fmt.Sprintf("cache-from %s has no checksum for ADD: a plain image records no checksum of the files added, so this step cannot be proven the same (an image pushed with --cache-to type=inline can)", im.source)
	case *instructions.RunCommand:
		for _, m := range instructions.GetMounts(c) {
			if m.Type == instructions.MountTypeBind {
				return nil, fmt.Sprintf("cache-from %s has no checksum for RUN --mount=type=bind: the files it reads cannot be proven the same", im.source)
			}
		}
		return withLayer(runHistory(runArgs(st.cfg.Config.Shell, c), st), nil)
	case *instructions.WorkdirCommand:
		wd := c.Path
		if !path.IsAbs(wd) {
			wd = path.Join("/", st.cfg.Config.WorkingDir, wd)
		}
		return withLayer("WORKDIR "+wd, func(cfg *v1.ConfigFile) { cfg.Config.WorkingDir = wd })
	}
	// A metadata step: its config is made as a build makes it, on a copy
	// of the stage's state by an executor that tells nobody.
	cp := &stageState{stage: st.stage, cfg: st.cfg.DeepCopy(), args: slices.Clone(st.args), argOver: maps.Clone(st.argOver),
		cmdSet: st.cmdSet, snap: st.snap, platform: st.platform}
	r := &stepRun{e: &Executor{Plan: e.Plan, Opt: e.Opt}, st: cp, step: step, t0: time.Now()}
	e.frontMu.Lock() // the plan's lexer, as dispatch holds it for metadata steps
	err := dispatchMeta(r, c)
	e.frontMu.Unlock()
	if err != nil {
		return nil, ""
	}
	switch len(cp.cfg.History) {
	case h: // no history entry (ARG): nothing of the image to match
	case h + 1:
		if cp.cfg.History[h].CreatedBy != next.CreatedBy || !next.EmptyLayer {
			return nil, ""
		}
		cp.cfg.History[h] = next
		stampCreated(cp.cfg)
	default:
		return nil, ""
	}
	return &CacheEntry{Config: cp.cfg, Args: cp.args, CmdSet: cp.cmdSet, ArgOver: sortedKeys(cp.argOver), Created: time.Now().UTC()}, ""
}

// unrecordedLayer is what is known of a hit's layer that its cache entry
// has no size for (a plain image records none; an entry kept from such a
// hit neither): the stored layer's size and files once it is here, or,
// while it is still in the image, where it is and its compressed size
// from the image's manifest: never a size of 0 that would pass for an
// empty layer.
func (e *Executor) unrecordedLayer(snap *event.Snapshot) (int64, int, *event.RemoteLayer) {
	d := snap.DiffID
	if d.Hex == "" {
		return 0, 0, nil
	}
	if rl, ok := e.Store.Remote(d); ok {
		return 0, 0, &event.RemoteLayer{Source: rl.Source, CompressedSize: rl.CompressedSize}
	}
	if m, err := e.Store.Layer(d); err == nil && e.Store.HasLayer(d) {
		if snap.Changes != nil {
			return m.Size, len(snap.Changes), nil
		}
		// downloaded or imported: no change list kept, its tar's entries
		if n, err := tarEntries(e.Store, d); err == nil {
			return m.Size, n, nil
		}
	}
	return 0, 0, nil
}

// tarEntries counts the entries of a stored layer's tar (its change list:
// one entry a path added, changed or deleted; an opaque directory's
// marker is not one). Only headers are read.
func tarEntries(s *layers.Store, d v1.Hash) (int, error) {
	f, err := s.OpenBlob(d)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if path.Base(h.Name) != ".wh..wh..opq" {
			n++
		}
	}
}

// dispatchMeta runs a metadata-only instruction.
func dispatchMeta(r *stepRun, c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.EnvCommand:
		return r.dispatchEnv(c)
	case *instructions.LabelCommand:
		return r.dispatchLabel(c)
	case *instructions.MaintainerCommand:
		return r.dispatchMaintainer(c)
	case *instructions.CmdCommand:
		return r.dispatchCmd(c)
	case *instructions.EntrypointCommand:
		return r.dispatchEntrypoint(c)
	case *instructions.ExposeCommand:
		return r.dispatchExpose(c)
	case *instructions.UserCommand:
		return r.dispatchUser(c)
	case *instructions.VolumeCommand:
		return r.dispatchVolume(c)
	case *instructions.StopSignalCommand:
		return r.dispatchStopSignal(c)
	case *instructions.ShellCommand:
		return r.dispatchShell(c)
	case *instructions.OnbuildCommand:
		return r.dispatchOnbuild(c)
	case *instructions.HealthCheckCommand:
		return r.dispatchHealthcheck(c)
	case *instructions.ArgCommand:
		return r.e.arg(r, c)
	}
	return fmt.Errorf("%s is not a metadata instruction", c.Name())
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
