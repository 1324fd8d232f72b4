package layers

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// configSteps is a chain of configs as a build's steps make them: labels,
// env set and replaced, ports, volumes, a layer, history entries with and
// without a zone, a field set then cleared.
func configSteps() []*v1.ConfigFile {
	cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}}}
	cfg.Config.Env = []string{"PATH=/bin"}
	var out []*v1.ConfigFile
	zone := time.FixedZone("X", 3600)
	for i := range 40 {
		c := cfg.DeepCopy()
		when := time.Date(2026, 1, 2, 3, 4, i, 5, time.UTC)
		if i%7 == 3 {
			when = when.In(zone)
		}
		h := v1.History{Created: v1.Time{Time: when}, CreatedBy: fmt.Sprintf("step %d", i), EmptyLayer: i%5 != 4}
		switch i % 9 {
		case 0:
			if c.Config.Labels == nil {
				c.Config.Labels = map[string]string{}
			}
			c.Config.Labels[fmt.Sprint("l", i)] = strings.Repeat("x", i)
		case 1:
			c.Config.Env = append(c.Config.Env, fmt.Sprintf("V%d=%d", i, i))
		case 2:
			c.Config.Env[0] = fmt.Sprintf("PATH=/bin:/x%d", i) // replaced, not appended
		case 3:
			if c.Config.ExposedPorts == nil {
				c.Config.ExposedPorts = map[string]struct{}{}
			}
			c.Config.ExposedPorts[fmt.Sprintf("%d/tcp", i)] = struct{}{}
		case 4:
			c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)})
		case 5:
			c.Config.Volumes = map[string]struct{}{fmt.Sprint("/v", i): {}}
		case 6:
			c.Config.Cmd = []string{"sh", "-c", fmt.Sprint(i)}
			c.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD", "true"}, Retries: i}
		case 7:
			delete(c.Config.Labels, "l0")
			c.Config.Cmd = nil
		case 8:
			c.Config.Labels = nil
			c.Config.User = "u"
		}
		c.History = append(c.History, h)
		c.Created = v1.Time{Time: when.Truncate(time.Second)}
		out = append(out, c)
		cfg = c
	}
	return out
}

// TestConfigDelta: each step's delta applied to the step before's config
// (a copy, or replayed in place) makes a config with the very same JSON,
// so the same id; the delta stays small as the config grows; the base is
// not changed.
func TestConfigDelta(t *testing.T) {
	steps := configSteps()
	replay := steps[0].DeepCopy()
	for i := 1; i < len(steps); i++ {
		base, want := steps[i-1], steps[i]
		before, _ := json.Marshal(base)
		d, err := DiffConfig(base, want)
		if err != nil {
			t.Fatal(err)
		}
		// Through JSON, as it is stored.
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var stored ConfigDelta
		if err := json.Unmarshal(raw, &stored); err != nil {
			t.Fatal(err)
		}
		got, err := stored.Apply(base)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		if string(wb) != string(gb) {
			t.Errorf("step %d: applied delta makes\n%s\nwant\n%s", i, gb, wb)
		}
		if after, _ := json.Marshal(base); string(after) != string(before) {
			t.Errorf("step %d: Apply changed its base", i)
		}
		// ApplyAppend onto a copy whose lists have room to grow: the same
		// config, and the base's elements untouched.
		roomy := base.DeepCopy()
		roomy.History = append(make([]v1.History, 0, len(roomy.History)+4), roomy.History...)
		appended, err := stored.ApplyAppend(roomy)
		if err != nil {
			t.Fatal(err)
		}
		if ab, _ := json.Marshal(appended); string(ab) != string(wb) {
			t.Errorf("step %d: ApplyAppend makes\n%s\nwant\n%s", i, ab, wb)
		}
		if rb, _ := json.Marshal(roomy); string(rb) != string(before) {
			t.Errorf("step %d: ApplyAppend changed its base", i)
		}
		if replay, err = stored.apply(replay, applyOwned); err != nil {
			t.Fatal(err)
		}
		if rb, _ := json.Marshal(replay); string(rb) != string(wb) {
			t.Errorf("step %d: replayed in place makes\n%s\nwant\n%s", i, rb, wb)
		}
		if i > 10 && len(raw) > 2000 {
			t.Errorf("step %d: delta is %d bytes (config %d): it holds more than the step's change", i, len(raw), len(wb))
		}
	}
}

// TestIntermediateDeltas: step images recorded as deltas are found by id,
// their config rebuilt and checked, and written whole when looked up;
// GC keeps them while their base lives and drops them with it.
func TestIntermediateDeltas(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	steps := configSteps()[:4] // no layer among them
	prev, err := s.SaveIntermediate(steps[0])
	if err != nil {
		t.Fatal(err)
	}
	var ids []v1.Hash
	for i := 1; i < len(steps); i++ {
		id, _ := ConfigDigest(steps[i])
		d, _ := DiffConfig(steps[i-1], steps[i])
		if err := s.SaveIntermediateDelta(prev, id, d, steps[i].Created.Time); err != nil {
			t.Fatal(err)
		}
		if s.HasBlob(id) {
			t.Errorf("step %d: a delta record wrote the config blob", i)
		}
		ids = append(ids, id)
		prev = id
	}
	last := ids[len(ids)-1]
	cfg, err := s.IntermediateConfig(last)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ConfigDigest(cfg); got != last {
		t.Errorf("IntermediateConfig(%s) made %s", last, got)
	}
	// A base that is not recorded: refused.
	bogus := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	if err := s.SaveIntermediateDelta(bogus, bogus, &ConfigDelta{}, time.Time{}); err == nil {
		t.Error("a delta from an unrecorded base was recorded")
	}
	// GC keeps the chain while its base's layers live.
	if _, err := s.GC(nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !s.HasIntermediate(id) {
			t.Errorf("GC dropped step image %s whose base lives", id)
		}
	}
	// TUI's save (LoadConfig by id) writes the blobs of a delta image.
	mid := ids[0]
	if c, err := s.LoadConfig(ImageRecord{Config: mid}); err != nil {
		t.Fatalf("LoadConfig of a delta step image: %v", err)
	} else if got, _ := ConfigDigest(c); got != mid || !s.HasBlob(mid) {
		t.Errorf("LoadConfig made %s (blob written: %v), want %s", got, s.HasBlob(mid), mid)
	}
	// Lookup by id (run, inspect, FROM) writes its config and manifest.
	rec, ok, err := s.LookupImage(last.Hex[:12])
	if err != nil || !ok || rec.Config != last || !s.HasBlob(rec.Manifest) || !s.HasBlob(last) {
		t.Fatalf("LookupImage(%s) = %+v %v %v", last.Hex[:12], rec, ok, err)
	}
	if _, err := s.Image(ids[1]); err != nil {
		t.Errorf("Image(%s) of a delta step image: %v", ids[1], err)
	}
	// A damaged delta is not served as the image.
	bad := ids[1]
	r, _ := s.readIntermediate(bad.Hex)
	if r.Delta != nil {
		r.Delta.Rest = []byte(strings.Replace(string(r.Delta.Rest), `"linux"`, `"plan9"`, 1))
		b, _ := json.Marshal(deltaRecord{Config: r.Config, Base: *r.Base, Delta: r.Delta})
		if err := WriteFileBytes(s.intermediateDir()+"/"+bad.Hex, b); err != nil {
			t.Fatal(err)
		}
		if _, err := s.IntermediateConfig(bad); err == nil || !strings.Contains(err.Error(), "could not be rebuilt") {
			t.Errorf("damaged delta: %v, want could not be rebuilt", err)
		}
	}
}
