// Package cache is strata's build cache: its data and where it is kept.
//
// It owns the cache entry of a step (Entry) and what its key is made of
// (Inputs, Key), the record of the last build of each Dockerfile stage
// (StageRecord) and why a step missed, said from it (Reason), the local
// store of entries and records under ROOT/cache (Local, Entries), the
// shared cache of --cache-from and --cache-to (Shared: its imported
// entries, records and lazy layers; the document format Doc and its
// transport to a registry or an OCI layout; Spec, ParseSpec; FitInline
// for type=inline), the matching of a plain --cache-from image's history
// (ClassicImage), and Prune, the store's garbage collection of entries.
//
// The executor (package build) keeps the walk's side, in
// build/cachestep.go: it computes a step's inputs from its stage's state
// (the context checksums of build/source into sums files, --from identities), asks the
// local and shared caches for the key, applies a hit to the stage, records
// a built step, and builds the document of --cache-to from the stages it
// walked. This package imports neither build nor the sandbox nor the TUI.
package cache
