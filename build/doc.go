// Package build is strata's executor and cache: it runs a frontend.Plan
// step by step (dispatch, with one function per metadata instruction in
// dispatch_meta.go), asks the cache for every step and says why it missed
// (cache), copies files for COPY/ADD (copy, add, source), runs RUN in the
// sandbox with its mounts (run), pauses and steps on request (control),
// and exports and pushes the result (output). It publishes what happens as
// build/event events. Repeated builds for the TUI (Session) and
// multi-platform builds (Multi) are build/session's, over Executors.
//
// It imports build/frontend, build/event, build/snapshot, layers, sandbox
// and registry; nothing imports it but main and build/session (the TUI
// never does).
package build
