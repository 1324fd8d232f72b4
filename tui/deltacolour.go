package tui

// colourDelta styles a change against the previous build: "+1.2s",
// "+340.0 kB" (slower, bigger: a regression) red, "-…" (faster, smaller:
// an improvement) green. The sign carries the meaning without colour.
func colourDelta(st *styles, d string) string {
	switch {
	case d == "":
		return ""
	case d[0] == '-':
		return st.added.Render(d)
	}
	return st.deleted.Render(d)
}

// howBuilt is how a step came out in one build: "from cache", "built in
// 2.3s", "failed after 0.4s".
func howBuilt(x *stepRec) string {
	switch x.status {
	case statusCached:
		return "from cache"
	case statusFailed:
		return "failed after " + humanDuration(x.duration)
	}
	return "built in " + humanDuration(x.duration)
}

// cachePrevLines are the Cache tab's comparison with the same step of the
// previous build: the cache decision then and now (a hit lost is red, one
// gained green), the time and layer size, each change coloured.
func cachePrevLines(c *common, b *buildState, step, w int) []string {
	r, p := b.planStep(step), b.prevStep(step)
	if r == nil || p == nil || p.status == statusPending || (r.status != statusBuilt && r.status != statusCached) {
		return nil
	}
	st := &c.st
	t := howBuilt(p) + " → " + howBuilt(r)
	switch {
	case p.status == statusCached && r.status != statusCached:
		t = st.deleted.Render(t) + " (the cache hit was lost)"
	case p.status != statusCached && r.status == statusCached:
		t = st.added.Render(t) + " (now a cache hit)"
	case timeDelta(p, r) != "":
		t += " (" + colourDelta(st, timeDelta(p, r)) + ")"
	}
	out := []string{"", st.dim.Render("against the previous build (" + p.label() + "):")}
	out = append(out, kv(c, "then → now", t, w)...)
	if (p.status == statusBuilt || p.status == statusCached) && !r.info.MetadataOnly {
		sz := humanBytes(p.size) + " → " + humanBytes(r.size)
		if d := sizeDelta(p, r); d != "" {
			sz += " (" + colourDelta(st, d) + ")"
		}
		out = append(out, kv(c, "layer", sz+" uncompressed tar", w)...)
	}
	return out
}
