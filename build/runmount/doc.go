// Package runmount holds the RUN --mount helpers that need no executor
// state: resolving a mount's source= inside the stage or image it names
// (ResolveInView: symlinks followed with that filesystem's root as "/",
// nothing above it), and the directories of cache mounts: their flocks
// (FlockFile; sharing=shared, locked, private with PrivateCacheDir), their
// atomic creation (EnsureDir), and a new one's seed, owner and mode
// (InitCacheDir, copying from a layers.View). The executor's side (which
// mounts a RUN gets, where a cache lives, the events) is build/runmount.go.
//
// Every read of a layer goes through a layers.View, so it resolves beneath
// the layer (layers/beneath); the cache dirs written are strata's own,
// made fresh under the store's root. It imports layers and layers/beneath.
package runmount
