package space

import (
	"fmt"
	"sort"
	"strings"

	"github.com/strata-build/strata/build/event"
)

// place names where a layer was made: its Dockerfile line, or, for an
// image inspected without its Dockerfile, its history entry.
func place(l Layer) string {
	if l.History {
		return fmt.Sprintf("history entry %d", l.Line)
	}
	return fmt.Sprintf("line %d", l.Line)
}

// who names the step of a layer: "line 3", or the base image's layer.
func who(l Layer, i int) string {
	if l.Step < 0 || l.Line == 0 {
		return fmt.Sprintf("the base image (layer %d)", i+1)
	}
	if l.Base {
		return place(l) + " (base image)"
	}
	return place(l)
}

// layerWord names the layer itself: "line 3's layer".
func layerWord(l Layer, i int) string {
	if l.Step < 0 || l.Line == 0 {
		return fmt.Sprintf("the base image's layer %d", i+1)
	}
	return place(l) + "'s layer"
}

func copies(l Layer) bool { return l.Kind == "COPY" || l.Kind == "ADD" }

// explain is a waste's message and fix: what the data shows, and the
// change that avoids it.
func explain(w *Waste, in []Layer) (msg, fix string) {
	from, by := in[w.Layer], in[w.ByLayer]
	size := event.HumanSize(w.Bytes)
	what := w.Path
	if w.Files > 1 {
		what = fmt.Sprintf("%s (%d files)", w.Path, w.Files)
	}
	switch w.Kind {
	case Deleted:
		msg = fmt.Sprintf("%s deletes %s, %s added by %s: still shipped in %s",
			who(by, w.ByLayer), what, size, who(from, w.Layer), layerWord(from, w.Layer))
		switch {
		case from.Base:
			fix = "it is in the base image: deleting it only hides it; only another FROM (or a multi-stage build that copies what you need) leaves it out"
		case strings.Contains(w.Path, "/var/lib/apt/lists"):
			fix = "remove the apt-get update lists in the same RUN: end it with `rm -rf /var/lib/apt/lists/*`"
		case strings.Contains(w.Path, "__pycache__"):
			fix = "Python wrote __pycache__ and a later step removed it: set ENV PYTHONDONTWRITEBYTECODE=1, or remove it in the same RUN"
		case copies(from):
			fix = fmt.Sprintf("do not copy it: leave it out of %s's sources (or .dockerignore), or read it with RUN --mount=type=bind instead", place(from))
		default:
			fix = "delete it in the same RUN that creates it"
		}
	case Overwritten:
		msg = fmt.Sprintf("%s writes %s again with new content: the %s from %s are still shipped",
			who(by, w.ByLayer), what, size, who(from, w.Layer))
		if from.Base {
			fix = "the old copy is in the base image: only another FROM leaves it out"
		} else {
			fix = "write the final content in the step that creates it (one RUN, or one COPY)"
		}
	case Metadata:
		msg = fmt.Sprintf("%s changes only the mode, owner or times of %s (%s): the whole file is stored again",
			who(by, w.ByLayer), what, size)
		switch {
		case from.Base:
			fix = "the file is the base image's: leave its mode and owner as they are, or copy it in the state you need with COPY --from"
		case copies(from):
			fix = fmt.Sprintf("set the mode and owner when you copy: %s --chmod=… --chown=… at %s", from.Kind, place(from))
		default:
			fix = "change the mode or owner in the same RUN that creates the file"
		}
	case Duplicate:
		msg = fmt.Sprintf("%s stores %s (%s) with the same content as %s of %s: the bytes are shipped twice",
			who(from, w.Layer), w.Path, size, w.Other, who(in[w.OtherLayer], w.OtherLayer))
		fix = fmt.Sprintf("keep one copy: use %s, or link to it (ln -s) instead of copying", w.Other)
	}
	return msg, fix
}

// rule is one of the classic findings: a part of the final image that a
// runtime does not need, known by its path.
type rule struct {
	name  string
	match func(p string) (root string, ok bool)
	msg   string // %s: path, size, line
	fix   string
}

func prefix(root string) func(string) (string, bool) {
	return func(p string) (string, bool) { return root, strings.HasPrefix(p, root+"/") }
}

func contains(part string) func(string) (string, bool) {
	return func(p string) (string, bool) {
		i := strings.Index(p, part+"/")
		if i < 0 {
			return "", false
		}
		return p[:i+len(part)], true
	}
}

var rules = []rule{
	{"apt-lists", prefix("/var/lib/apt/lists"),
		"the apt-get update lists in %s (%s, written by %s) are never removed",
		"end the RUN that runs apt-get update with `rm -rf /var/lib/apt/lists/*`"},
	{"apt-cache", prefix("/var/cache/apt"),
		"apt's package cache %s (%s, written by %s) is shipped",
		"run `apt-get clean` in the same RUN (or RUN --mount=type=cache,target=/var/cache/apt)"},
	{"apk-cache", prefix("/var/cache/apk"),
		"apk's package cache %s (%s, written by %s) is shipped",
		"use `apk add --no-cache`"},
	{"pip-cache", contains("/.cache/pip"),
		"pip's download cache %s (%s, written by %s) is shipped",
		"use `pip install --no-cache-dir` (or RUN --mount=type=cache,target=/root/.cache/pip)"},
	{"npm-cache", contains("/.npm/_cacache"),
		"npm's cache %s (%s, written by %s) is shipped",
		"run `npm cache clean --force` in the same RUN (or RUN --mount=type=cache,target=/root/.npm)"},
	{"toolchain", prefix("/usr/lib/gcc"),
		"the final image ships the C compiler's %s (%s, installed by %s)",
		"build in a first stage (FROM … AS build) and COPY --from=build only what runs: the compiler stays behind"},
	{"toolchain", prefix("/usr/local/go"),
		"the final image ships the Go toolchain %s (%s, installed by %s)",
		"build in a first stage (FROM … AS build) and COPY --from=build only the binary: the toolchain stays behind"},
}

// findings applies the rules to the live files of the user's layers.
func (a *analyzer) findings() {
	type key struct {
		rule  int
		root  string
		layer int
	}
	sums := map[key]*Finding{}
	for _, b := range a.blobs {
		p := b.path
		if b.refs == 0 || b.size == 0 || a.in[b.layer].Base {
			continue
		}
		if !strings.HasPrefix(p, "/var/") && !strings.HasPrefix(p, "/usr/") && !strings.Contains(p, "/.") {
			continue // no rule is about it
		}
		for ri, r := range rules {
			root, ok := r.match(p)
			if !ok {
				continue
			}
			k := key{ri, root, b.layer}
			f := sums[k]
			if f == nil {
				f = &Finding{Rule: r.name, Path: root, Layer: b.layer}
				sums[k] = f
			}
			f.Files++
			f.Bytes += b.size
			break
		}
	}
	for k, f := range sums {
		l := a.in[f.Layer]
		f.Step, f.Line = l.Step, l.Line
		r := rules[k.rule]
		f.Message = fmt.Sprintf(r.msg, f.Path, event.HumanSize(f.Bytes), who(l, f.Layer))
		f.Fix = r.fix
		a.out.Findings = append(a.out.Findings, *f)
	}
	sort.Slice(a.out.Findings, func(i, j int) bool {
		x, y := a.out.Findings[i], a.out.Findings[j]
		if x.Bytes != y.Bytes {
			return x.Bytes > y.Bytes
		}
		return x.Path+fmt.Sprint(x.Layer) < y.Path+fmt.Sprint(y.Layer)
	})
}
