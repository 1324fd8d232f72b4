// Package snapshot answers what the TUI and the commands ask of a build's
// snapshots and of images: a snapshot's files and whole tree (Backend,
// through layers.View, never mounting), step logs, the comparison of two
// snapshots and of two configs, debug shells and strata run in a
// temporary container, saving a snapshot as an image, and the event stream
// of an existing image (Inspect) with image lookup (LoadImage, OpenArchive).
//
// It imports build/event, build/frontend (platform and history text
// helpers), layers, sandbox and registry; never the executor (build) or
// the TUI.
package snapshot
