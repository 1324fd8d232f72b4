package tui

// Two measures of a step's change are shown, each named where it appears:
// the layer's size, its uncompressed tar (what it weighs in the store and
// in the image; the Steps column, Cache and Summary), and the bytes of file
// content in it (the Files tab; what the files themselves hold). Tar
// headers and padding (at least 512 bytes an entry, in 512-byte blocks)
// make the difference, large for many small files.

// layerSizes names a step's layer size and, when it differs, the file
// content it holds: "3.1 kB layer (uncompressed tar) · 18 B of file content".
func layerSizes(r *stepRec) string {
	if r.unread {
		if r.size == 0 {
			return unreadText(r)
		}
		return humanBytes(r.size) + " layer (uncompressed tar)"
	}
	s := humanBytes(r.size) + " layer (uncompressed tar)"
	if r.stats.Bytes != r.size {
		s += " · " + humanBytes(r.stats.Bytes) + " of file content"
	}
	return s
}
