// Package session drives the executor (build) for main and the TUI: a
// Session builds one Dockerfile again and again on one event stream
// (rebuild on request, on save with Watch), and Multi builds it for
// several platforms, one Executor per platform side by side, into one
// image index (OCI layout, pushed manifest list, the store's record). It
// also holds what is about several platforms: which stages run under
// emulation (EmulatedStages), the emulator check before any step runs
// (CheckEmulators), and the options an index cannot take.
//
// It imports build, build/frontend, build/event, build/snapshot, layers,
// registry and sandbox; only main imports it (the TUI never does: it gets
// events and a snapshot.Backend).
package session
