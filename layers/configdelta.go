package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ConfigDelta is what one build step changed in an image config, relative
// to the config of the step before (its base): what it appended to the
// history, the rootfs diff_ids and the env, the labels, exposed ports and
// volumes it set or removed, and the rest of the config whole (small:
// the parts that grow step after step are left out of it). A LABEL step
// after a thousand labels records one label, not a thousand, so a build's
// metadata steps store O(steps) bytes, not O(steps²): a step's config is
// rebuilt by applying the deltas from the nearest config stored whole,
// and checked against its digest.
type ConfigDelta struct {
	Rest         json.RawMessage        `json:"rest"`
	History      sliceDelta[v1.History] `json:"history"`
	DiffIDs      sliceDelta[v1.Hash]    `json:"diff_ids"`
	Env          sliceDelta[string]     `json:"env"`
	Labels       mapDelta[string]       `json:"labels"`
	ExposedPorts mapDelta[struct{}]     `json:"exposed_ports"`
	Volumes      mapDelta[struct{}]     `json:"volumes"`
}

// sliceDelta: the base's first Keep elements, then Add (nil: the field is
// nil, not empty).
type sliceDelta[T any] struct {
	Nil  bool `json:"nil,omitempty"`
	Keep int  `json:"keep,omitempty"`
	Add  []T  `json:"add,omitempty"`
}

// mapDelta: the base's map with Set set and Del removed (Nil: the field
// is nil).
type mapDelta[V any] struct {
	Nil bool         `json:"nil,omitempty"`
	Set map[string]V `json:"set,omitempty"`
	Del []string     `json:"del,omitempty"`
}

func diffSlice[T any](base, cfg []T, eq func(a, b T) bool) sliceDelta[T] {
	if cfg == nil {
		return sliceDelta[T]{Nil: true}
	}
	keep := 0
	if len(base) <= len(cfg) && slices.EqualFunc(base, cfg[:len(base)], eq) {
		keep = len(base)
	}
	return sliceDelta[T]{Keep: keep, Add: slices.Clip(cfg[keep:])}
}

// applyMode says what apply may do with its base's slices and maps.
type applyMode int

const (
	applyCopy   applyMode = iota // share nothing with the base
	applyOwned                   // change the base's slices and maps in place
	applyAppend                  // append to the base's slices (past their length only); copy maps
)

func (d sliceDelta[T]) apply(base []T, mode applyMode) ([]T, error) {
	if d.Nil {
		return nil, nil
	}
	if d.Keep < 0 || d.Keep > len(base) {
		return nil, fmt.Errorf("the delta keeps %d elements of a base with %d", d.Keep, len(base))
	}
	if mode == applyOwned || (mode == applyAppend && d.Keep == len(base)) {
		out := append(base[:d.Keep], d.Add...)
		if out == nil {
			out = []T{}
		}
		return out, nil
	}
	out := make([]T, 0, d.Keep+len(d.Add))
	return append(append(out, base[:d.Keep]...), d.Add...), nil
}

func diffMap[V comparable](base, cfg map[string]V) mapDelta[V] {
	if cfg == nil {
		return mapDelta[V]{Nil: true}
	}
	var d mapDelta[V]
	for k, v := range cfg {
		if bv, ok := base[k]; !ok || bv != v {
			if d.Set == nil {
				d.Set = map[string]V{}
			}
			d.Set[k] = v
		}
	}
	for k := range base {
		if _, ok := cfg[k]; !ok {
			d.Del = append(d.Del, k)
		}
	}
	slices.Sort(d.Del)
	return d
}

func (d mapDelta[V]) apply(base map[string]V, mode applyMode) map[string]V {
	if d.Nil {
		return nil
	}
	out := base
	if mode != applyOwned || out == nil {
		out = make(map[string]V, len(base)+len(d.Set))
		maps.Copy(out, base)
	}
	maps.Copy(out, d.Set)
	for _, k := range d.Del {
		delete(out, k)
	}
	return out
}

// sameHistory: a and b marshal alike (the same instant and UTC offset).
func sameHistory(a, b v1.History) bool {
	_, oa := a.Created.Zone()
	_, ob := b.Created.Zone()
	return a.Author == b.Author && a.CreatedBy == b.CreatedBy && a.Comment == b.Comment && a.EmptyLayer == b.EmptyLayer &&
		a.Created.Equal(b.Created.Time) && oa == ob && a.Created.IsZero() == b.Created.IsZero()
}

func eq[T comparable](a, b T) bool { return a == b }

// DiffConfig is the delta that makes cfg from base. It reads both and
// changes neither.
func DiffConfig(base, cfg *v1.ConfigFile) (*ConfigDelta, error) {
	rest := *cfg
	rest.History, rest.RootFS.DiffIDs = nil, nil
	rest.Config.Env, rest.Config.Labels, rest.Config.ExposedPorts, rest.Config.Volumes = nil, nil, nil, nil
	raw, err := json.Marshal(&rest)
	if err != nil {
		return nil, err
	}
	return &ConfigDelta{
		Rest:         raw,
		History:      diffSlice(base.History, cfg.History, sameHistory),
		DiffIDs:      diffSlice(base.RootFS.DiffIDs, cfg.RootFS.DiffIDs, eq[v1.Hash]),
		Env:          diffSlice(base.Config.Env, cfg.Config.Env, eq[string]),
		Labels:       diffMap(base.Config.Labels, cfg.Config.Labels),
		ExposedPorts: diffMap(base.Config.ExposedPorts, cfg.Config.ExposedPorts),
		Volumes:      diffMap(base.Config.Volumes, cfg.Config.Volumes),
	}, nil
}

// Apply makes the config d was taken to from base (base is not changed,
// and the result shares no slice or map with it).
func (d *ConfigDelta) Apply(base *v1.ConfigFile) (*v1.ConfigFile, error) {
	return d.apply(base, applyCopy)
}

// ApplyAppend is Apply for a base whose lists only ever grow (a build
// stage's config): a list the step appended to shares base's array,
// written past its length only, so a chain of steps holds one history,
// not one per step. base's elements and maps are not changed.
func (d *ConfigDelta) ApplyAppend(base *v1.ConfigFile) (*v1.ConfigFile, error) {
	return d.apply(base, applyAppend)
}

// apply: with applyOwned, base is the caller's to reuse (its slices and
// maps are changed in place, for replaying a chain in linear time).
func (d *ConfigDelta) apply(base *v1.ConfigFile, mode applyMode) (*v1.ConfigFile, error) {
	if d == nil || len(d.Rest) == 0 {
		return nil, errors.New("empty config delta")
	}
	var out v1.ConfigFile
	if err := json.Unmarshal(d.Rest, &out); err != nil {
		return nil, fmt.Errorf("config delta: %w", err)
	}
	var err error
	if out.History, err = d.History.apply(base.History, mode); err != nil {
		return nil, fmt.Errorf("config delta history: %w", err)
	}
	if out.RootFS.DiffIDs, err = d.DiffIDs.apply(base.RootFS.DiffIDs, mode); err != nil {
		return nil, fmt.Errorf("config delta diff_ids: %w", err)
	}
	if out.Config.Env, err = d.Env.apply(base.Config.Env, mode); err != nil {
		return nil, fmt.Errorf("config delta env: %w", err)
	}
	out.Config.Labels = d.Labels.apply(base.Config.Labels, mode)
	out.Config.ExposedPorts = d.ExposedPorts.apply(base.Config.ExposedPorts, mode)
	out.Config.Volumes = d.Volumes.apply(base.Config.Volumes, mode)
	return &out, nil
}

// ConfigDigest is an image config's id: the digest of its JSON as
// SaveImage stores it.
func ConfigDigest(cfg *v1.ConfigFile) (v1.Hash, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return v1.Hash{}, err
	}
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}, nil
}
