package event

// SetSpace sets the report's wasted-space analysis (a *space.Analysis,
// or what says why there is none): the event package cannot name the
// type, build/space imports it.
func (r *Report) SetSpace(v any) {
	r.mu.Lock()
	r.Space = v
	r.mu.Unlock()
}
