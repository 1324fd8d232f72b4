package frontend

import "unicode/utf8"

// Paths in messages. A path can be as long as the kernel allows (4096
// bytes, more through a deep tree) and a message that carries a whole one
// hides what is wrong. ShortPath keeps the start (where) and the end
// (what) of a long path, with "…" between.
const (
	shortPathMax  = 240 // longer paths are shortened
	shortPathKeep = 100 // bytes kept at each end
)

// ShortPath is p for a message: p itself when at most 240 bytes, else its
// first and last 100 bytes (cut at whole characters) joined by "…".
func ShortPath(p string) string {
	if len(p) <= shortPathMax {
		return p
	}
	head := shortPathKeep
	for head > 0 && !utf8.RuneStart(p[head]) {
		head--
	}
	tail := len(p) - shortPathKeep
	for tail < len(p) && !utf8.RuneStart(p[tail]) {
		tail++
	}
	return p[:head] + "…" + p[tail:]
}
