// Package source is what COPY and ADD read from: the build context
// (.dockerignore and --exclude honoured, every path resolved beneath the
// context root through layers/beneath, never leaving it by .. or a
// symlink) and another stage's or image's filesystem (a layers.View), both
// behind one Source interface; and the content checksums of what a COPY
// selects (ContextSums, ViewSums), with the stat cache that spares
// rehashing unchanged context files (StatCache, under ROOT/cache/files).
//
// It imports build/cache, build/frontend, layers and layers/beneath, never
// build, sandbox or tui.
package source
