package tui

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/snapshot"
)

// The texts of `strata inspect`: the same panes, told as an existing
// image's layers rather than a build's steps.

// inspectHeader is the right side of the header while inspecting.
func (m *model) inspectHeader() string {
	st := &m.c.st
	d := m.b.done
	fin, _, _, _ := m.b.counts()
	switch {
	case d != nil && d.Error != "":
		return st.headerErr.Render("✗ " + d.Error)
	case d != nil:
		s := st.headerOK.Render("✓ "+shortID(d.ImageID, 12)) + st.dim.Render(" · "+humanBytes(d.Size)+" · "+plural(d.Layers, "layer"))
		if m.w >= 100 {
			s += st.dim.Render(" · " + entries(len(m.b.steps)))
		}
		return s
	case m.b.closed:
		return st.headerErr.Render("inspection ended")
	}
	return st.running.Render(m.c.spin+" reading layers") + st.dim.Render(" "+itoa(fin)+"/"+itoa(len(m.b.steps)))
}

// inspectDetail is the line under the selected entry in the Layers pane.
func inspectDetail(r *stepRec) string {
	s := "history entry without a layer: config only"
	if r.diffID != "" {
		s = "layer " + shortID(r.diffID, 12) + " · " + changeSummary(r)
	}
	if r.imageID != "" {
		s += " → image " + shortID(r.imageID, 12)
	}
	return s
}

// historyOf is the history entry a step was made from, when the steps
// follow the history (they do not when the image's history is missing or
// does not match its layers).
func historyOf(r *stepRec) (v1.History, bool) {
	cfg := configOf(r.snap)
	if cfg == nil {
		return v1.History{}, false
	}
	i := r.info.Index
	if len(cfg.History) != i+1 || snapshot.CleanCreatedBy(cfg.History[i].CreatedBy) != r.info.Text {
		return v1.History{}, false
	}
	return cfg.History[i], true
}

// inspectStory is the Step tab of an inspected image: what made the
// layer, what it holds, where it sits in the chain.
func inspectStory(c *common, b *buildState, step, w int) []string {
	st := &c.st
	r := b.step(step)
	if r == nil {
		return []string{st.dim.Render("no layer selected")}
	}
	var out []string
	add := func(s string) { out = append(out, wrap(s, w, "  ")...) }
	out = append(out, st.bold.Render(r.label()), "")
	if r.status == statusPending {
		add("Reading this layer…")
		return out
	}
	h, hasHist := historyOf(r)
	made := r.info.Text
	if hasHist && strings.TrimSpace(h.CreatedBy) != "" {
		made = sanitize(strings.TrimSpace(h.CreatedBy))
	}
	below := 0
	if r.snap != nil {
		below = len(r.snap.Layers)
	}
	if r.diffID != "" {
		if !hasHist {
			made = "(the image does not say: it has no history for this layer)"
		}
		add("layer made by: " + made)
		out = append(out, "")
		add("Layer " + shortID(r.diffID, 12) + " holds " + changeSummary(r) + ".")
		switch below {
		case 0, 1:
			add("It is the image's first layer: the filesystem starts here.")
		default:
			add(fmt.Sprintf("It is stacked on the %s below it; together they are the filesystem at this point of the image.", plural(below-1, "layer")))
		}
	} else {
		add("history entry made by: " + made)
		out = append(out, "")
		add("No layer: this instruction only changed the image config (ENV, CMD, LABEL, …); the files are those of the " + plural(below, "layer") + " before it.")
	}
	if hasHist {
		if !h.Created.IsZero() {
			out = append(out, kv(c, "created", h.Created.UTC().Format("2006-01-02 15:04:05 MST"), w)...)
		}
		if h.Comment != "" && h.Comment != "buildkit.dockerfile.v0" {
			out = append(out, kv(c, "comment", sanitize(h.Comment), w)...)
		}
		if h.Author != "" {
			out = append(out, kv(c, "author", sanitize(h.Author), w)...)
		}
	}
	if r.imageID != "" {
		out = append(out, "")
		add("→ This is the image's last history entry: image " + shortID(r.imageID, 12) + ".")
	}
	out = append(out, "")
	if r.diffID != "" {
		add(st.dim.Render("An image does not record the container or the time a step took; the Files tab (3) shows what this layer holds."))
	} else {
		add(st.dim.Render("An image records only its final config: the Config tab (5) shows it, with USER and WORKDIR as the history sets them at each entry."))
	}
	return out
}

// inspectSummary is the Summary tab of an inspected image: its id, size,
// layers, platform and largest layers.
func inspectSummary(c *common, b *buildState, w int) []string {
	st := &c.st
	var out []string
	d := b.done
	name := ""
	if b.plan != nil {
		name = sanitize(b.plan.Dockerfile)
	}
	switch {
	case d == nil && b.closed:
		out = append(out, st.failed.Render("the inspection ended without a result"))
	case d == nil:
		out = append(out, st.dim.Render("reading the image's layers…"))
	case d.Error != "":
		out = append(out, wrap(st.failed.Render("✗ "+d.Error), w, "  ")...)
	default:
		out = append(out, st.headerOK.Render("✓ image "+name))
	}
	var cfg *v1.ConfigFile
	if n := len(b.steps); n > 0 {
		cfg = configOf(b.steps[n-1].snap)
	}
	if d != nil {
		if d.ImageID != "" {
			out = append(out, kv(c, "image", d.ImageID, w)...)
		}
		if d.Digest != "" {
			out = append(out, kv(c, "manifest", d.Digest, w)...)
		}
		out = append(out, kv(c, "size", humanBytes(d.Size)+" uncompressed", w)...)
		out = append(out, kv(c, "layers", itoa(d.Layers), w)...)
	}
	out = append(out, kv(c, "history", entries(len(b.steps)), w)...)
	if cfg != nil {
		if cfg.OS != "" {
			p := cfg.OS + "/" + cfg.Architecture
			if cfg.Variant != "" {
				p += "/" + cfg.Variant
			}
			out = append(out, kv(c, "platform", p, w)...)
		}
		if !cfg.Created.IsZero() {
			out = append(out, kv(c, "created", cfg.Created.UTC().Format("2006-01-02 15:04:05 MST"), w)...)
		}
		out = append(out, kv(c, "command", execForm(primaryCommand(&cfg.Config)), w)...)
	}
	out = append(out, savedLines(c, b, w)...)
	out = append(out, topSteps(c, b, "largest layers:", 8, func(r *stepRec) (int64, string) {
		if r.diffID == "" {
			return 0, ""
		}
		return r.size, humanBytes(r.size)
	})...)
	out = append(out, warningLines(c, b, w)...)
	return out
}

// entries is "1 history entry", "5 history entries".
func entries(n int) string {
	if n == 1 {
		return "1 history entry"
	}
	return itoa(n) + " history entries"
}
