package cache

import (
	"fmt"
	"sort"
	"strings"
)

// Reason explains why a step is built: what differs from the same step
// (the seq-th) of last, the last build of this stage (nil when there was
// none). sharedMiss says why an imported entry of the key could not be
// used ("" when there is none).
func Reason(last *StageRecord, seq int, in *Inputs, sharedMiss func(key string) string) string {
	if in.Uncacheable != "" {
		return in.Uncacheable
	}
	if last == nil {
		return "first build"
	}
	if seq >= len(last.Steps) {
		if last.Stopped {
			return "not built before: the last build stopped before this step"
		}
		return "new step (the last build had " + Plural(len(last.Steps), "step") + " in this stage)"
	}
	prev := last.Steps[seq]
	if prev.Text != in.Text {
		return "instruction changed (was: " + Clip(prev.Text, 80) + ")"
	}
	if prev.Base != in.Base && strings.HasPrefix(in.Base, "stage:") {
		return "stage " + in.FromName + " was rebuilt"
	}
	if prev.Base != in.Base {
		return "base image " + in.FromName + " now resolves to " + ShortDigest(in.Base) + " (was " + ShortDigest(prev.Base) + ")"
	}
	if in.ArgsKeyed {
		if r := diffArgs(prev.Args, in.Args); r != "" {
			return r
		}
	}
	if prev.Canonical != in.Canonical {
		if r := diffArgs(prev.Args, in.Args); r != "" {
			return r
		}
		if r := diffEnv(prev.Env, in.Env); r != "" {
			return r
		}
		return "instruction changed after expansion"
	}
	if in.FromFiles != nil && (prev.FromFiles != nil || prev.From == in.From) {
		if r := filesReason(prev.FromFiles, bool(prev.FromInline), in.FromFiles); r != "" {
			return "--from=" + in.FromName + ": " + r
		}
	} else if prev.From != in.From {
		return "--from=" + in.FromName + " changed (its content is not the same as last build)"
	}
	if r := filesReason(prev.Files, bool(prev.Inline), in.Files); r != "" {
		return r
	}
	if prev.Parent != in.Parent {
		return "an earlier step was rebuilt"
	}
	if prev.Key == in.Key() && prev.Unfinished {
		return "the last build did not finish this step (it failed or was cancelled)"
	}
	if prev.Key == in.Key() {
		if r := sharedMiss(prev.Key); r != "" {
			return r
		}
		return "not in cache any more (pruned, or its layer was removed)"
	}
	return "inputs changed"
}

// HitNote says why a hit is one though what --from names changed since
// the last build: COPY --from is keyed on the files it copies.
func HitNote(last *StageRecord, seq int, in *Inputs) string {
	if in.FromFiles == nil || last == nil || seq >= len(last.Steps) {
		return ""
	}
	prev := last.Steps[seq]
	if prev.From == "" || prev.From == in.From {
		return ""
	}
	if strings.HasPrefix(in.From, "stage:") {
		return "stage " + in.FromName + " was rebuilt; the files copied from it are unchanged"
	}
	return "image " + in.FromName + " changed; the files copied from it are unchanged"
}

// ChangedFrom is the last build's instruction at step seq when reason says
// the instruction changed, whole (the reason clips it), else "".
func ChangedFrom(last *StageRecord, seq int, reason string) string {
	if !strings.HasPrefix(reason, "instruction changed (was: ") || last == nil || seq >= len(last.Steps) {
		return ""
	}
	return last.Steps[seq].Text
}

func diffArgs(prev, cur map[string]string) string {
	var names []string
	for k := range cur {
		names = append(names, k)
	}
	for k := range prev {
		if _, ok := cur[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		a, hadA := prev[k]
		b, hasB := cur[k]
		switch {
		case hadA && hasB && a != b:
			return fmt.Sprintf("build arg %s changed: %s → %s", k, Clip(a, 40), Clip(b, 40))
		case !hadA && hasB:
			return fmt.Sprintf("build arg %s is now set (to %s)", k, Clip(b, 40))
		case hadA && !hasB:
			return fmt.Sprintf("build arg %s is no longer set (was %s)", k, Clip(a, 40))
		}
	}
	return ""
}

func diffEnv(prev, cur []string) string {
	pm := map[string]string{}
	for _, kv := range prev {
		k, v, _ := strings.Cut(kv, "=")
		pm[k] = v
	}
	cm := map[string]string{}
	for _, kv := range cur {
		k, v, _ := strings.Cut(kv, "=")
		cm[k] = v
	}
	var changed []string
	for k, v := range cm {
		if pv, ok := pm[k]; !ok || pv != v {
			changed = append(changed, k)
		}
	}
	for k := range pm {
		if _, ok := cm[k]; !ok {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return ""
	}
	sort.Strings(changed)
	return "ENV " + strings.Join(changed, ", ") + " changed"
}

// filesReason says which source files differ between the last build's
// checksums (prev; inline: an older strata's record held them inline) and
// this one's, "" when none do.
func filesReason(prev *Sums, inline bool, cur *Sums) string {
	if prev == nil && cur == nil {
		return ""
	}
	if prev != nil && cur != nil && prev.Digest == cur.Digest {
		return ""
	}
	if prev == nil && inline {
		return "source files not compared: the last build's record was written by an older strata (its checksums are no longer read)"
	}
	r, err := diffSums(prev, cur)
	if err != nil {
		return fmt.Sprintf("source files changed (the last build's list of them cannot be read: %v)", err)
	}
	return r
}

// filesText names up to three of the changed, added and removed paths
// (the first three of each, in path order) and counts the rest: total is
// how many differ.
func filesText(changed, added, removed []string, total int) string {
	if total == 0 {
		return ""
	}
	var parts []string
	named := 0
	say := func(list []string, verb string) {
		if len(list) == 0 {
			return
		}
		var show []string
		for _, p := range list {
			if named == 3 {
				break
			}
			show = append(show, strings.TrimPrefix(p, "/"))
			named++
		}
		if len(show) == 0 {
			return
		}
		word := "file"
		if len(show) > 1 {
			word = "files"
		}
		parts = append(parts, word+" "+strings.Join(show, ", ")+" "+verb)
	}
	say(changed, "changed")
	say(added, "added")
	say(removed, "removed")
	s := strings.Join(parts, "; ")
	if rest := total - named; rest > 0 {
		s += fmt.Sprintf(" (and %d more)", rest)
	}
	return s
}

// Clip shortens s to n runes, an ellipsis last.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ShortDigest is the first 12 hex digits of a digest, with its
// algorithm (an "image:" prefix dropped).
func ShortDigest(s string) string {
	s = strings.TrimPrefix(s, "image:")
	if i := strings.Index(s, "sha256:"); i >= 0 && len(s) >= i+7+12 {
		return s[i : i+7+12]
	}
	return s
}

// Plural is n units, the unit plural unless n is 1.
func Plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
