package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/imageref"
	"github.com/strata-build/strata/internal/platforms"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/registry"
)

// Inspection is an existing image told as the build that made it: one step
// per history entry (its created_by as the instruction), each finishing
// with the snapshot after it, so the TUI and the printers show an image's
// layers the way they show a build's steps.
type Inspection struct {
	Ref     string         // the reference as given
	ImageID v1.Hash        // config digest
	Digest  v1.Hash        // manifest digest when the image is in the local store
	Config  *v1.ConfigFile // the image's config
	Steps   []event.StepInfo
	Source  []byte // one cleaned created_by a line, line i+1 is step i
	Size    int64  // uncompressed bytes of all layers
	// Warning says why the steps are one per layer instead of the history
	// ("" when the history matches the layers).
	Warning string

	store *layers.Store
	hist  []int // step → history entry (-1: none)
	layer []int // step → index into RootFS.DiffIDs (-1: no layer)
}

// Inspect finds an image (LoadImage: local store, oci:, docker-archive:,
// registries where supported), makes sure its layers are in the store and
// lays out its history as steps. Stream then sends the events.
func Inspect(ctx context.Context, s *layers.Store, ref string) (*Inspection, error) {
	cfg, err := LoadImage(ctx, s, ref)
	if err != nil {
		return nil, err
	}
	in := &Inspection{Ref: ref, Config: cfg, store: s}
	in.ImageID, in.Digest = imageIDOf(s, ref, cfg)
	for _, d := range cfg.RootFS.DiffIDs {
		m, err := s.Layer(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		in.Size += m.Size
	}
	in.plan()
	return in, nil
}

// imageIDOf is the digest of the config as stored: the store's record for
// names, ids and pulled images, the image's own config name for oci: and
// docker-archive:.
func imageIDOf(s *layers.Store, ref string, cfg *v1.ConfigFile) (id, manifest v1.Hash) {
	if rec, ok, err := s.LookupImage(ref); err == nil && ok {
		return rec.Config, rec.Manifest
	}
	if r, err := imageref.Parse(ref); err == nil && r.IsArchive() {
		p := platforms.Host()
		if img, err := OpenArchive(r, &p); err == nil {
			if h, err := img.ConfigName(); err == nil {
				return h, v1.Hash{}
			}
		}
	}
	if r, err := registry.Parse(ref); err == nil { // pulled: stored under its full name
		if rec, ok, err := s.LookupImage(r.Name); err == nil && ok {
			return rec.Config, rec.Manifest
		}
	}
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}, v1.Hash{}
}

// plan makes the steps: one per history entry when the entries that made
// a layer are exactly as many as the layers, else one per layer.
func (in *Inspection) plan() {
	cfg := in.Config
	ids := cfg.RootFS.DiffIDs
	withLayer := 0
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			withLayer++
		}
	}
	var lines []string
	add := func(text string, hist, layer int) {
		i := len(in.Steps)
		kind, meta := historyKind(text), layer < 0
		if layer >= 0 && kind == "CONFIG" {
			kind = "LAYER"
		}
		in.Steps = append(in.Steps, event.StepInfo{Index: i, Number: i + 1, Kind: kind, Text: text,
			StartLine: i + 1, EndLine: i + 1, MetadataOnly: meta})
		in.hist = append(in.hist, hist)
		in.layer = append(in.layer, layer)
		lines = append(lines, text)
	}
	if len(cfg.History) > 0 && withLayer == len(ids) {
		li := 0
		for hi, h := range cfg.History {
			layer := -1
			if !h.EmptyLayer {
				layer, li = li, li+1
			}
			text := CleanCreatedBy(h.CreatedBy)
			if text == "" && h.Comment != "" && h.Comment != layers.HistoryComment {
				text = "# " + oneLineText(h.Comment)
			}
			if text == "" {
				if layer >= 0 {
					text = "layer " + strconv.Itoa(layer+1)
				} else {
					text = "# (no created_by)"
				}
			}
			add(text, hi, layer)
		}
	} else {
		if len(cfg.History) > 0 {
			in.Warning = fmt.Sprintf("the image's history has %d entries that made a layer, but the image has %d layers: showing one step per layer", withLayer, len(ids))
		} else if len(ids) > 0 {
			in.Warning = "the image has no history: showing one step per layer"
		}
		for i := range ids {
			add("layer "+strconv.Itoa(i+1), -1, i)
		}
	}
	for i := range in.Steps {
		in.Steps[i].StageSteps = len(in.Steps)
	}
	if len(lines) > 0 {
		in.Source = []byte(strings.Join(lines, "\n") + "\n")
	}
}

// historyKind is the instruction a cleaned created_by starts with, or
// CONFIG when it names none.
func historyKind(text string) event.StepKind {
	word, _, _ := strings.Cut(text, " ")
	w := strings.ToUpper(word)
	switch w {
	case "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
		"VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL":
		return event.StepKind(w)
	}
	return "CONFIG"
}

// shellRe matches the shell a RUN was run with: "/bin/sh -c ",
// "/bin/bash -o pipefail -c ", "cmd /S /C ".
var shellRe = regexp.MustCompile(`(?:(?:/usr)?/bin/(?:ba|da|a|z|k)?sh(?: -(?:o [a-z]+|[a-zA-Z]+))*? -c |cmd /S /C )`)

// CleanCreatedBy turns a history entry's created_by into the instruction
// it was, the way `docker history` and dive show it: BuildKit's
// "RUN |2 A=1 B=2 /bin/sh -c make # buildkit" and the classic builder's
// "|2 A=1 B=2 /bin/sh -c make" both read "RUN make"; "/bin/sh -c #(nop)
// CMD [\"sh\"]" reads `CMD ["sh"]`. The result is one line.
func CleanCreatedBy(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimSuffix(s, "# buildkit"))
	run := false
	if rest, ok := strings.CutPrefix(s, "RUN "); ok {
		s, run = strings.TrimLeft(rest, " "), true
	}
	// Build args the RUN saw: "|N K=V ..." before the shell.
	if strings.HasPrefix(s, "|") {
		n, rest, _ := strings.Cut(s[1:], " ")
		if cnt, err := strconv.Atoi(n); err == nil {
			if i := shellAt(rest); i >= 0 {
				// the shell follows the pairs (values may hold spaces)
				s = rest[i:]
			} else {
				for range cnt {
					_, rest, _ = strings.Cut(rest, " ")
				}
				s = rest
			}
			run = true
		}
	}
	if loc := shellRe.FindStringIndex(s); loc != nil && loc[0] == 0 {
		s, run = s[loc[1]:], true
	}
	if rest, ok := strings.CutPrefix(strings.TrimLeft(s, " "), "#(nop)"); ok {
		s, run = strings.TrimSpace(rest), false
	}
	s = oneLineText(s)
	if run && s != "" {
		s = "RUN " + s
	}
	return s
}

// shellAt is where the first shell invocation starting a word of s is, or
// -1.
func shellAt(s string) int {
	for _, loc := range shellRe.FindAllStringIndex(s, -1) {
		if loc[0] == 0 || s[loc[0]-1] == ' ' {
			return loc[0]
		}
	}
	return -1
}

// oneLineText joins lines and runs of blanks (heredocs, tabs of long RUNs)
// so every entry is one line of the History pane.
func oneLineText(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") && !strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.Fields(s), " ")
}

// Stream sends the inspection as build events on events and closes it:
// PlanReady (Inspect set), a StepDone per step with its snapshot (layers
// so far, the config with the history up to the step, the layer's
// changes), then BuildDone. Change lists are read from the store, or from
// the layer's tar for imported layers, one layer at a time, so the TUI can
// show the first layers while the others are read.
func (in *Inspection) Stream(ctx context.Context, events chan<- event.Event) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
		done := event.BuildDone{Base: event.Now(), ImageID: in.ImageID.String(), Size: in.Size,
			Layers: len(in.Config.RootFS.DiffIDs), Duration: time.Since(start), Built: len(in.Steps)}
		if in.Digest.Hex != "" {
			done.Digest = in.Digest.String()
		}
		if err != nil {
			done.Error = err.Error()
		}
		events <- done
		close(events)
	}()
	events <- event.PlanReady{Base: event.Now(), Dockerfile: in.Ref, Source: in.Source, Steps: in.Steps,
		Stages: []string{in.Ref}, Inspect: true}
	if in.Warning != "" {
		events <- event.Warning{Base: event.Now(), Rule: "ImageHistory", Message: in.Warning}
	}
	ids := in.Config.RootFS.DiffIDs
	var parent *event.Snapshot
	for i := range in.Steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("inspect %s: %w", in.Ref, err)
		}
		li := in.layer[i]
		nl := li + 1 // layers up to and including this step's
		if li < 0 {
			nl = 0
			if parent != nil {
				nl = len(parent.Layers)
			}
		}
		cfg := in.Config.DeepCopy()
		cfg.RootFS.DiffIDs = append([]v1.Hash(nil), ids[:nl]...)
		in.configAt(cfg, i)
		if h := in.hist[i]; h >= 0 {
			cfg.History = cfg.History[:h+1]
		}
		snap := &event.Snapshot{Layers: append([]v1.Hash(nil), ids[:nl]...), Config: cfg, Parent: parent, Step: i}
		done := event.StepDone{Base: event.Now(), Step: i}
		if i == len(in.Steps)-1 {
			done.ImageID = in.ImageID.String()
		}
		if li >= 0 {
			d := ids[li]
			snap.DiffID = d
			meta, err := in.store.Layer(d)
			if err != nil {
				return fmt.Errorf("layer %d: %w", li+1, err)
			}
			changes, err := in.store.ChangeList(d, ids[:li])
			if err != nil {
				events <- event.Warning{Base: event.Now(), Message: fmt.Sprintf("layer %d (%s): cannot list its files: %v", li+1, d, err), Line: i + 1}
			}
			done.DiffID, done.Size = d.String(), meta.Size
			done.Files, done.Stats = len(changes), layers.Stats(changes)
			if err == nil { // the list stays in the store: the Files tab reads it again
				stats := done.Stats
				snap.Stats, snap.Files = &stats, done.Files
			}
		}
		done.Snapshot = snap
		events <- done
		parent = snap
	}
	return nil
}

// configAt sets the USER and WORKDIR in effect at step i, read from the
// history's USER and WORKDIR entries up to it, so a shell on an early
// layer runs as the user the build ran it as. Images record no config per
// step: when the history names no USER (or no WORKDIR) at all, the final
// config's value stands.
func (in *Inspection) configAt(cfg *v1.ConfigFile, i int) {
	var users, dirs bool
	for _, st := range in.Steps {
		users = users || st.Kind == "USER"
		dirs = dirs || st.Kind == "WORKDIR"
	}
	user, dir := "", "/"
	for _, st := range in.Steps[:i+1] {
		f := strings.Fields(st.Text)
		if len(f) != 2 {
			continue
		}
		switch st.Kind {
		case "USER":
			user = f[1]
		case "WORKDIR":
			if path.IsAbs(f[1]) {
				dir = f[1]
			} else {
				dir = path.Join(dir, f[1])
			}
		}
	}
	if users {
		cfg.Config.User = user
	}
	if dirs {
		cfg.Config.WorkingDir = dir
	}
}
