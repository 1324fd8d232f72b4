package tui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-build/strata/build/event"
)

// infoKind says which text tab an InfoModel renders.
type infoKind int

const (
	infoStep infoKind = iota
	infoConfig
	infoCache
	infoSummary
)

// infoModel is a scrollable text tab whose content is rendered from the
// build state: the Step story, the image Config, the Cache decision and the
// build Summary.
type infoModel struct {
	c       *common
	b       *buildState
	kind    infoKind
	keys    navKeyMap
	w, h    int
	focused bool
	step    int
	off     int
}

func newInfo(c *common, b *buildState, kind infoKind) infoModel {
	return infoModel{c: c, b: b, kind: kind, keys: defaultNavKeyMap(), step: -1}
}

// SetSize sets the content size.
func (m *infoModel) SetSize(w, h int) { m.w, m.h = w, h }

// SetFocus marks the pane focused.
func (m *infoModel) SetFocus(f bool) { m.focused = f }

// SetStep picks the step shown.
func (m *infoModel) SetStep(i int) {
	if i != m.step {
		m.step, m.off = i, 0
	}
}

// Update scrolls.
func (m infoModel) Update(msg tea.Msg) (infoModel, tea.Cmd) {
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		n := len(m.lines())
		if off, ok := navDelta(m.keys, msg, m.off, max(1, n-m.h+1), m.h); ok {
			m.off = off
		}
	}
	return m, nil
}

// Scroll moves the view by n lines.
func (m *infoModel) Scroll(n int) { m.off = clamp(m.off+n, 0, max(0, len(m.lines())-m.h)) }

func (m infoModel) lines() []string {
	w := max(10, m.w)
	if m.b.inspecting() {
		switch m.kind {
		case infoStep:
			return inspectStory(m.c, m.b, m.step, w)
		case infoSummary:
			return inspectSummary(m.c, m.b, w)
		}
	}
	switch m.kind {
	case infoStep:
		return append(stepStory(m.c, m.b, m.step, w), stepPhases(m.c, m.step, w)...)
	case infoConfig:
		return configView(m.c, m.b, m.step, w)
	case infoCache:
		return cacheView(m.c, m.b, m.step, w)
	}
	return summaryView(m.c, m.b, w)
}

// View renders the visible part.
func (m infoModel) View() string {
	all := m.lines()
	off := clamp(m.off, 0, max(0, len(all)-m.h))
	out := make([]string, 0, m.h)
	for i := off; i < len(all) && len(out) < m.h; i++ {
		out = append(out, fit(all[i], m.w))
	}
	return strings.Join(out, "\n")
}

// wrap word-wraps s to w cells, indenting continuation lines by indent.
func wrap(s string, w int, indent string) []string {
	if w <= len(indent)+4 {
		return []string{s}
	}
	out := wrapWords(s, w-len(indent), "")
	for i := 1; i < len(out); i++ {
		out[i] = indent + out[i]
	}
	return out
}

// wrapWords wraps s to w cells at spaces and after any byte of breaks (":"
// for a PATH), never inside a word: a word that does not fit on the line
// begins the next one. Only a word wider than a whole line (a digest in a
// pane narrower than it) is cut, as there is no other way to show it all.
func wrapWords(s string, w int, breaks string) []string {
	if w <= 0 {
		return []string{s}
	}
	var out []string
	for _, l := range strings.Split(ansi.Wordwrap(s, w, breaks), "\n") {
		if ansi.StringWidth(l) > w {
			out = append(out, strings.Split(ansi.Hardwrap(l, w, true), "\n")...)
			continue
		}
		out = append(out, l)
	}
	return out
}

// longestWord is the width of s's widest space-separated word.
func longestWord(s string) int {
	n := 0
	for _, f := range strings.Fields(ansi.Strip(s)) {
		n = max(n, ansi.StringWidth(f))
	}
	return n
}

// kv is "key         value", the value wrapped beside the key; a value
// with a word too wide to sit beside the key (an image's digest at 80
// columns) goes whole on the lines below it instead of being cut.
func kv(c *common, k, v string, w int) []string {
	const kw = 12
	if lw := longestWord(v); lw > w-kw && lw <= w-2 {
		out := []string{c.st.dim.Render(k)}
		for _, l := range wrapWords(v, w-2, "") {
			out = append(out, "  "+l)
		}
		return out
	}
	k = fit(k, kw)
	ls := wrapWords(v, w-kw, "")
	for i := range ls {
		if i == 0 {
			ls[i] = c.st.dim.Render(k) + ls[i]
		} else {
			ls[i] = strings.Repeat(" ", kw) + ls[i]
		}
	}
	return ls
}

func changeSummary(r *stepRec) string {
	if r.unread {
		return unreadText(r)
	}
	s := r.stats
	parts := []string{}
	if s.Added > 0 || (s.Modified == 0 && s.Deleted == 0) {
		parts = append(parts, itoa(s.Added)+" added")
	}
	if s.Modified > 0 {
		parts = append(parts, itoa(s.Modified)+" modified")
	}
	if s.Deleted > 0 {
		parts = append(parts, itoa(s.Deleted)+" deleted")
	}
	return strings.Join(parts, ", ") + ", " + humanBytes(s.Bytes) + " of file content" // the layer's tar size is named apart (layerSizes)
}

// stepStory explains a step in a learner's words: the temporary container,
// the snapshot, the new image handed to the next step.
func stepStory(c *common, b *buildState, step int, w int) []string {
	st := &c.st
	r := b.step(step)
	if r == nil {
		return []string{st.dim.Render("no step selected")}
	}
	var out []string
	add := func(s string) { out = append(out, wrap(s, w, "  ")...) }
	out = append(out, st.bold.Render(r.label()), "")
	layer := shortID(r.diffID, 12)
	image := shortID(r.imageID, 12)
	next := ""
	if n := b.planStep(step + 1); n != nil && n.info.Stage == r.info.Stage && r.kind == recStep {
		next = n.label()
	}
	switch r.kind {
	case recShell:
		return shellStory(c, r, w)
	case recRun:
		return runStory(c, r, w)
	}
	forward := func() {
		switch {
		case next != "":
			add("→ The new image " + image + " is forwarded to the next step, " + next + ", which starts from it.")
		case r.imageID != "":
			add("→ Image " + image + " is the result of this stage.")
		}
	}
	kind := r.info.Kind
	switch r.status {
	case statusPending:
		if p := b.paused; p != nil && p.Step == step {
			why := "you asked to go step by step"
			if p.Why == "breakpoint" {
				why = "of the breakpoint on line " + itoa(p.Line)
			}
			out = append(out, wrap(st.warning.Render("Paused before this step, because "+why+"."), w, "  ")...)
			add("n runs this step and pauses again before the next; c continues to the next breakpoint; s opens a shell on the state this step starts from; b sets or clears breakpoints.")
			out = append(out, "")
		}
		add("Waiting: this step has not run yet.")
		if r.info.MetadataOnly {
			add(string(kind) + " only changes the image config: no container will run and no layer will be made.")
		}
	case statusRunning:
		if r.container != "" {
			add("Running in temporary container " + shortID(r.container, 12) + " for " + humanDuration(r.elapsed(c.now())) + " so far.")
			add("The container was made from the previous step's image; when the command ends, the container stops and its filesystem changes become a snapshot.")
		} else {
			add("Running for " + humanDuration(r.elapsed(c.now())) + " so far.")
		}
		if p := r.progress; p != nil && p.Total > 0 {
			add(fmt.Sprintf("%s: %s of %s", p.What, humanBytes(p.Done), humanBytes(p.Total)))
		}
	case statusCached:
		add("Taken from cache: this instruction was built before on the same parent image with the same inputs, so no container ran.")
		if kind == "FROM" {
			add(baseStory(r, image))
		} else if r.files == 0 && !r.info.MetadataOnly && !r.unread {
			add("No changes: it changed no files, so its layer is empty.")
		} else if r.diffID != "" {
			add("Reused layer " + layer + " (" + changeSummary(r) + ").")
		} else {
			add("Metadata only: no layer, the image config carries the change.")
		}
		forward()
	case statusBuilt:
		switch {
		case kind == "FROM":
			add(baseStory(r, image))
			forward()
		case r.files == 0 && !r.info.MetadataOnly:
			s := "Ran"
			if r.container != "" {
				s += " in temporary container " + shortID(r.container, 12)
			}
			if r.diffID != "" {
				add(s + ": no changes. It changed no files, so its layer is empty (docker keeps such a layer in the history too); image " + image + " has the same files as " + prevImage(b, step) + ".")
			} else {
				add(s + ": no changes, no layer. Image " + image + " has the same files as " + prevImage(b, step) + ".")
			}
			forward()
		case r.diffID == "" && (r.info.MetadataOnly || r.files == 0):
			what := configChangeNames(r.snap)
			if what == "" {
				what = string(kind)
			}
			add("Metadata only: changed " + what + " in the image config, no new layer.")
			add("No container ran; the new config was saved with the same layers as " + prevImage(b, step) + ", making image " + image + ".")
			if slices.Contains(strings.Split(what, ", "), "CMD") || slices.Contains(strings.Split(what, ", "), "ENTRYPOINT") {
				if cfg := configOf(r.snap); cfg != nil {
					add("The primary command stored in the image is now " + execForm(primaryCommand(&cfg.Config)) + ": a container started from this image runs it.")
				}
			}
			forward()
		case kind == "RUN":
			s := "Ran in temporary container "
			if r.container != "" {
				s += shortID(r.container, 12) + " "
			}
			s += "for " + humanDuration(r.duration) + "; its filesystem changes (" + changeSummary(r) + ") were saved as layer " + shortID(r.diffID, 12) + "."
			add(s)
			add("The container was then removed; the snapshot was stacked on the previous image to make image " + image + ".")
			forward()
		default:
			add(string(kind) + " ran without a container: the files it wrote (" + changeSummary(r) + ") were saved as layer " + shortID(r.diffID, 12) + ", stacked to make image " + image + ".")
			forward()
		}
		if r.reason != "" {
			out = append(out, "")
			add("Built, not from cache, because " + r.reason + ".")
		}
	case statusFailed:
		s := "Failed"
		if r.duration > 0 {
			s += " after " + humanDuration(r.duration)
		}
		if r.container != "" {
			s += " in temporary container " + shortID(r.container, 12)
		}
		out = append(out, wrap(st.failed.Render(s+": "+r.err), w, "  ")...)
		if r.command != "" {
			out = append(out, kv(c, "command", r.command, w)...)
		}
		if r.exitCode != 0 {
			out = append(out, kv(c, "exit code", itoa(r.exitCode), w)...)
		}
		if len(r.last) > 0 {
			out = append(out, "", st.dim.Render("last output:"))
			for _, l := range r.last {
				out = append(out, "  "+l)
			}
		}
		if r.snap != nil {
			out = append(out, "")
			add("The failed container's filesystem was kept as a snapshot (" + changeSummary(r) + "): open the Files tab to see what it changed.")
			out = append(out, "")
			out = append(out, wrap(st.helpKey.Render("s")+" opens a shell on the state before this step, with the failed command typed at its prompt (Enter runs it again by hand)", w, "   ")...)
			if r.snap.UpperDir != "" {
				out = append(out, wrap(st.helpKey.Render("p")+" opens a shell on what the failed command left (its partial result)", w, "   ")...)
			}
			add("  What you change in the shell is thrown away unless you keep it as a step; keeping it prints the RUN line that redoes it.")
		}
	}
	out = append(out, prevLines(c, b, step, w)...)
	return out
}

// baseStory says what FROM brings in: the base image's layers.
func baseStory(r *stepRec, image string) string {
	n := 0
	if r.snap != nil {
		n = len(r.snap.Layers)
	}
	if n == 0 {
		return "Base: the stage starts from an empty filesystem (scratch, or an image without layers); image " + image + " is where every later step of the stage starts."
	}
	return "Base image: FROM brings in the " + plural(n, "layer") + " of image " + image + ", as they are (nothing is copied or run); every later step of the stage starts from its filesystem and stacks its own layers on top."
}

// prevImage names the image a step started from: the previous step's of
// the same stage.
func prevImage(b *buildState, step int) string {
	r, p := b.planStep(step), b.planStep(step-1)
	if r != nil && p != nil && p.info.Stage == r.info.Stage && p.imageID != "" {
		return "image " + shortID(p.imageID, 12)
	}
	return "the previous step's image"
}

// prevLines compares a step with the same step of the previous build.
func prevLines(c *common, b *buildState, step, w int) []string {
	r, p := b.planStep(step), b.prevStep(step)
	if r == nil || p == nil || p.status == statusPending || r.status == statusPending || r.status == statusRunning {
		return nil
	}
	st := &c.st
	out := []string{"", st.dim.Render("against the previous build (" + p.label() + "):")}
	t := howBuilt(p) + " → " + howBuilt(r)
	if d := timeDelta(p, r); d != "" {
		t += " (" + colourDelta(st, d) + ")" // red when slower, green when faster
	}
	out = append(out, kv(c, "time", t, w)...)
	if (p.status == statusBuilt || p.status == statusCached) && (r.status == statusBuilt || r.status == statusCached) && !r.info.MetadataOnly {
		sz := humanBytes(p.size) + " → " + humanBytes(r.size)
		if d := sizeDelta(p, r); d != "" {
			sz += " (" + colourDelta(st, d) + ")"
		}
		out = append(out, kv(c, "layer", sz+" uncompressed tar", w)...)
	}
	if r.status == statusBuilt && r.reason != "" {
		out = append(out, kv(c, "rebuilt", r.reason, w)...)
	}
	out = append(out, wrap(st.dim.Render("M compares this snapshot with the previous build's"), w, "")...)
	return out
}

// shellStory is the Step tab of a kept debug shell snapshot.
func shellStory(c *common, r *stepRec, w int) []string {
	st := &c.st
	var out []string
	add := func(s string) { out = append(out, wrap(s, w, "  ")...) }
	out = append(out, st.bold.Render(r.label()), "")
	add("A debug shell opened on " + r.note + "; what it changed (" + changeSummary(r) + ") was kept as a snapshot on top of it.")
	if r.diffID != "" {
		add("Layer " + shortID(r.diffID, 12) + " · Files, File and Config show it like any step's.")
	}
	out = append(out, "")
	if r.runLine == "" {
		add("The shell left no command history (nothing was typed, or the shell does not save its history to HISTFILE, like Debian's static busybox), so there is no RUN line to print: the Files tab shows what changed.")
		return out
	}
	add("The RUN line that would redo it in the Dockerfile:")
	out = append(out, "")
	for _, l := range strings.Split(r.runLine, "\n") {
		out = append(out, "  "+st.bold.Render(l))
	}
	return out
}

// runStory is the Step tab of the run of the image (x).
func runStory(c *common, r *stepRec, w int) []string {
	st := &c.st
	var out []string
	add := func(s string) { out = append(out, wrap(s, w, "  ")...) }
	out = append(out, st.bold.Render(r.label()), "")
	add("x ran the image's primary command " + r.info.Text + " in a temporary container made from the final image, as a container started from it would; the Log tab has its output.")
	switch r.status {
	case statusRunning:
		add("Running for " + humanDuration(runElapsed(r, c.now())) + " so far.")
	case statusFailed:
		add(st.failed.Render("It ended: " + r.err + "."))
	default:
		add("It exited with code 0 after " + humanDuration(r.duration) + ".")
	}
	return out
}

func configOf(s *event.Snapshot) *v1.ConfigFile {
	if s == nil {
		return nil
	}
	return s.Config
}

func parentConfig(s *event.Snapshot) *v1.ConfigFile {
	if s == nil || s.Parent == nil {
		return nil
	}
	return s.Parent.Config
}

// primaryCommand is ENTRYPOINT + CMD, the way a container runs it.
func primaryCommand(c *v1.Config) []string {
	out := append([]string{}, c.Entrypoint...)
	return append(out, c.Cmd...)
}

func execForm(args []string) string {
	if len(args) == 0 {
		return "(none)"
	}
	b, _ := json.Marshal(args)
	return string(b)
}

// configField is one row of the Config tab.
type configField struct {
	name    string
	values  []string
	changed []bool
}

func cfgFields(c, p *v1.Config) []configField {
	str := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	list := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return []string{execForm(s)}
	}
	set := func(m map[string]struct{}) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	labels := func(m map[string]string) []string {
		out := make([]string, 0, len(m))
		for k, v := range m {
			out = append(out, k+"="+v)
		}
		slices.Sort(out)
		return out
	}
	health := func(h *v1.HealthConfig) []string {
		if h == nil || len(h.Test) == 0 {
			return nil
		}
		s := execForm(h.Test)
		if h.Interval > 0 {
			s += " interval=" + h.Interval.String()
		}
		if h.Timeout > 0 {
			s += " timeout=" + h.Timeout.String()
		}
		if h.StartPeriod > 0 {
			s += " start-period=" + h.StartPeriod.String()
		}
		if h.Retries > 0 {
			s += " retries=" + itoa(h.Retries)
		}
		return []string{s}
	}
	get := func(c *v1.Config) [][]string {
		if c == nil {
			return make([][]string, 12)
		}
		return [][]string{
			list(primaryCommand(c)), list(c.Entrypoint), list(c.Cmd), c.Env, str(c.WorkingDir), str(c.User),
			set(c.ExposedPorts), set(c.Volumes), labels(c.Labels), health(c.Healthcheck), list(c.Shell), str(c.StopSignal),
		}
	}
	names := []string{"PRIMARY", "ENTRYPOINT", "CMD", "ENV", "WORKDIR", "USER", "EXPOSE", "VOLUME", "LABEL", "HEALTHCHECK", "SHELL", "STOPSIGNAL"}
	cur, par := get(c), get(p)
	out := make([]configField, len(names))
	for i, n := range names {
		f := configField{name: n, values: cur[i], changed: make([]bool, len(cur[i]))}
		if p != nil {
			for j, v := range cur[i] {
				f.changed[j] = !slices.Contains(par[i], v)
			}
			if len(cur[i]) == 0 && len(par[i]) > 0 { // removed
				f.values, f.changed = []string{"(cleared)"}, []bool{true}
			}
		}
		out[i] = f
	}
	return out
}

// configChangeNames lists the config fields a step changed: "CMD, ENV".
func configChangeNames(s *event.Snapshot) string {
	c, p := configOf(s), parentConfig(s)
	if c == nil || p == nil {
		return ""
	}
	var names []string
	for _, f := range cfgFields(&c.Config, &p.Config)[1:] {
		if slices.Contains(f.changed, true) {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, ", ")
}

// configView shows the image config after the step, what the step changed
// marked with ●.
func configView(c *common, b *buildState, step, w int) []string {
	st := &c.st
	r := b.step(step)
	if r == nil {
		return []string{st.dim.Render("no step selected")}
	}
	cfg, par := configOf(r.snap), parentConfig(r.snap)
	if cfg == nil {
		return []string{st.dim.Render("no image config yet: the step has not finished")}
	}
	var pc *v1.Config
	if par != nil {
		pc = &par.Config
	}
	fields := cfgFields(&cfg.Config, pc)
	var out []string
	// the primary command first, as it will run
	prim := fields[0]
	pv := "(none: a container from this image needs a command)"
	if len(prim.values) > 0 {
		pv = prim.values[0]
	}
	mark := "  "
	ps := st.bold
	if len(prim.changed) > 0 && prim.changed[0] {
		mark, ps = st.changed.Render("● "), st.changed
	}
	out = append(out, st.dim.Render("Primary command (ENTRYPOINT + CMD, exec form, as a container runs it):"))
	out = append(out, wrap(mark+ps.Render(pv), w, "    ")...)
	out = append(out, "")
	const kw = 13
	for _, f := range fields[1:] {
		if len(f.values) == 0 {
			out = append(out, "  "+st.dim.Render(fit(f.name, kw)+"–"))
			continue
		}
		for j, v := range f.values {
			name := ""
			if j == 0 {
				name = f.name
			}
			m, vs := "  ", st.plain
			if f.changed[j] {
				m, vs = st.changed.Render("● "), st.changed
			}
			for k, part := range wrapWords(v, w-kw-2, ":") { // a PATH at its colons
				if k == 0 {
					out = append(out, m+st.dim.Render(fit(name, kw))+vs.Render(part))
				} else {
					out = append(out, strings.Repeat(" ", kw+2)+vs.Render(part))
				}
			}
		}
	}
	out = append(out, "")
	switch {
	case b.inspecting():
		out = append(out, wrap(st.dim.Render("an image records only its final config: it is shown for every history entry, with the USER and WORKDIR of this entry read from the history"), w, "")...)
	case par == nil:
		out = append(out, st.dim.Render("base image config (no parent to compare with)"))
	default:
		out = append(out, st.dim.Render("● changed by this step"))
	}
	if cfg.OS != "" {
		out = append(out, st.dim.Render("platform "+cfg.OS+"/"+cfg.Architecture+"  ·  "+plural(len(cfg.RootFS.DiffIDs), "layer")+"  ·  "+entries(len(cfg.History))))
	}
	return out
}

// cacheView shows the cache decision for a step.
func cacheView(c *common, b *buildState, step, w int) []string {
	st := &c.st
	r := b.step(step)
	if r == nil {
		return []string{st.dim.Render("no step selected")}
	}
	var out []string
	switch {
	case r.kind == recShell:
		return kv(c, "cache", "none: a debug shell's change, kept by hand", w)
	case r.kind == recRun:
		return kv(c, "cache", "none: running the image makes no snapshot", w)
	case b.inspecting():
		out = append(out, kv(c, "cache", "none: this image was not built here, so no cache decision was made", w)...)
	case r.status == statusCached:
		out = append(out, kv(c, "cache", st.cached.Render("hit")+" · the result was reused, nothing ran", w)...)
		if r.reason != "" {
			out = append(out, kv(c, "why", r.reason, w)...)
		}
	case r.status == statusBuilt:
		reason := r.reason
		if reason == "" {
			reason = "no earlier result matched"
		}
		out = append(out, kv(c, "cache", st.built.Render("miss")+" · built", w)...)
		if r.prevText != "" && strings.HasPrefix(reason, "instruction changed (was: ") {
			// old and new, the changed words marked
			out = append(out, kv(c, "reason", "instruction changed:", w)...)
			out = append(out, instructionDiff(st, r.prevText, r.info.Text, w)...)
			break
		}
		out = append(out, kv(c, "reason", reason, w)...)
	case r.status == statusFailed:
		out = append(out, kv(c, "cache", st.failed.Render("miss")+" · the step failed", w)...)
	case r.status == statusRunning:
		out = append(out, kv(c, "cache", "miss · running now", w)...)
	default:
		out = append(out, kv(c, "cache", "not decided yet", w)...)
	}
	if r.key != "" {
		out = append(out, kv(c, "key", r.key, w)...)
	}
	layer := "none (metadata only)"
	if r.diffID != "" {
		layer = r.diffID
	}
	if r.status == statusBuilt || r.status == statusCached {
		out = append(out, kv(c, "layer", layer, w)...)
		if r.imageID != "" || !b.inspecting() {
			out = append(out, kv(c, "image", r.imageID, w)...)
		}
		if r.diffID != "" && r.unread && r.files == 0 {
			out = append(out, kv(c, "size", layerSizes(r), w)...)
		} else if r.diffID != "" {
			out = append(out, kv(c, "size", layerSizes(r)+" · "+plural(r.files, "changed path"), w)...)
		}
	}
	out = append(out, cachePrevLines(c, b, step, w)...)
	if r.snap != nil && len(r.snap.Layers) > 0 {
		out = append(out, "", st.dim.Render("layer chain ("+itoa(len(r.snap.Layers))+"):"))
		for i, l := range r.snap.Layers {
			s := fmt.Sprintf("%3d  %s", i+1, l.String())
			if r.diffID != "" && l.String() == r.diffID {
				s += st.changed.Render("  ← this step")
			}
			out = append(out, s)
		}
	}
	return out
}

// summaryView is the end-of-build summary: image, size, layers, time,
// cache ratio and the slowest steps.
func summaryView(c *common, b *buildState, w int) []string {
	st := &c.st
	var out []string
	_, cached, built, failed := b.counts()
	d := b.done
	switch {
	case d == nil && b.closed:
		out = append(out, st.failed.Render("the build ended without a result"))
	case d == nil:
		out = append(out, st.dim.Render("the build is running…"))
	case d.Error != "":
		msg := "✗ build failed: " + d.Error
		if d.Line > 0 {
			msg += " (Dockerfile line " + itoa(d.Line) + ")"
		}
		out = append(out, wrap(st.failed.Render(msg), w, "  ")...)
	default:
		out = append(out, st.headerOK.Render("✓ build complete"))
	}
	if b.platformNote != nil { // platform.go: the image index
		out = append(out, b.platformNote(c, w)...)
	}
	if d != nil {
		if d.ImageID != "" {
			out = append(out, kv(c, "image", d.ImageID, w)...)
		}
		if len(d.Tags) > 0 {
			out = append(out, kv(c, "tags", strings.Join(d.Tags, ", "), w)...)
		}
		if d.Error == "" || d.Size > 0 {
			out = append(out, kv(c, "size", humanBytes(d.Size)+" (uncompressed tar)", w)...)
			out = append(out, kv(c, "layers", itoa(d.Layers), w)...)
		}
		out = append(out, kv(c, "time", buildTime(d), w)...)
		cached, built = max(cached, d.Cached), max(built, d.Built)
	}
	if total := cached + built + failed; total > 0 {
		out = append(out, kv(c, "cache", fmt.Sprintf("%d of %d steps from cache (%d%%)", cached, total, cached*100/total), w)...)
	}
	out = append(out, savedLines(c, b, w)...)
	if b.finalConfig() != nil {
		if cfg := b.finalConfig().Config; len(primaryCommand(&cfg.Config)) > 0 {
			out = append(out, "")
			out = append(out, wrap(st.helpKey.Render("x")+" runs the primary command "+execForm(primaryCommand(&cfg.Config))+
				" in a temporary container; its output goes to the Log tab.", w, "  ")...)
		}
	}
	out = append(out, prevSummary(c, b, w)...)
	out = append(out, topSteps(c, b, "slowest steps:", 7, func(r *stepRec) (int64, string) {
		return int64(r.duration), humanDuration(r.duration)
	})...)
	out = append(out, warningLines(c, b, w)...)
	return out
}

// prevSummary compares the build with the previous one: total time and
// size, and the steps that got slower or bigger.
func prevSummary(c *common, b *buildState, w int) []string {
	if b.prev == nil || b.done == nil {
		return nil
	}
	st := &c.st
	out := []string{"", st.dim.Render("against the previous build:")}
	if pd := b.prev.done; pd != nil {
		t := humanDuration(pd.Duration) + " → " + humanDuration(b.done.Duration) + " (" + colourDelta(st, signedDuration(b.done.Duration-pd.Duration)) + ")"
		out = append(out, kv(c, "time", t, w)...)
		if pd.Error == "" && b.done.Error == "" {
			sz := humanBytes(pd.Size) + " → " + humanBytes(b.done.Size)
			if pd.Size != b.done.Size {
				sz += " (" + colourDelta(st, signedBytes(b.done.Size-pd.Size)) + ")"
			}
			out = append(out, kv(c, "size", sz, w)...)
		}
	}
	n := 0
	for i := range b.steps {
		r, p := &b.steps[i], b.prevStep(i)
		td, sd := timeDelta(p, r), sizeDelta(p, r)
		var what, plain []string
		add := func(s string, worse bool) { // red when worse, green when better
			plain = append(plain, s)
			if worse {
				what = append(what, st.deleted.Render(s))
			} else {
				what = append(what, st.added.Render(s))
			}
		}
		if strings.HasPrefix(td, "+") {
			add("slower "+td, true)
		}
		if strings.HasPrefix(sd, "+") {
			add("bigger "+sd, true)
		}
		if strings.HasPrefix(td, "-") {
			add("faster "+td, false)
		}
		if strings.HasPrefix(sd, "-") {
			add("smaller "+sd, false)
		}
		if len(what) == 0 {
			continue
		}
		n++
		pad := strings.Repeat(" ", max(0, 24-len(strings.Join(plain, ", "))))
		out = append(out, "  "+strings.Join(what, ", ")+pad+" "+r.label())
	}
	if n == 0 {
		out = append(out, "  "+st.dim.Render("no step got slower or bigger"))
	}
	return out
}

// savedLines lists where the image was saved from the TUI, or offers S
// when it is nowhere yet.
func savedLines(c *common, b *buildState, w int) []string {
	st := &c.st
	var out []string
	for i, s := range b.saved {
		k := ""
		if i == 0 {
			out = append(out, "")
			k = "saved"
		}
		out = append(out, kv(c, k, s, w)...)
	}
	if b.saveOffered() {
		out = append(out, "")
		out = append(out, wrap(st.helpKey.Render("S")+" saves this image: it has no name (-t) and was not exported (-o). "+
			"Give a name for the local store, oci:DIR or docker-archive:FILE.", w, "  ")...)
	}
	return out
}

// warningLines lists the warnings not tied to a line.
func warningLines(c *common, b *buildState, w int) []string {
	if len(b.general) == 0 {
		return nil
	}
	out := []string{"", c.st.warning.Render(itoa(len(b.general)) + " warning(s):")}
	for _, g := range b.general {
		out = append(out, wrap("  ! "+g, w, "    ")...)
	}
	return out
}

// topSteps lists (figures right-aligned in width) the five steps with the largest figure (what returns
// > 0), largest first, each with a bar scaled to the largest.
func topSteps(c *common, b *buildState, title string, width int, figure func(r *stepRec) (int64, string)) []string {
	type item struct {
		i    int
		v    int64
		text string
	}
	var items []item
	for i := range b.steps {
		if v, text := figure(&b.steps[i]); v > 0 {
			items = append(items, item{i, v, text})
		}
	}
	if len(items) == 0 {
		return nil
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(b.v, a.v) })
	st := &c.st
	out := []string{"", st.dim.Render(title)}
	top := items[0].v
	for _, x := range items[:min(5, len(items))] {
		bar := int(int64(10) * x.v / max(1, top))
		out = append(out, fmt.Sprintf("%*s %s %s", width, x.text,
			st.running.Render(fit(strings.Repeat("█", max(1, bar)), 10)), b.steps[x.i].label()))
	}
	return out
}
