// Package build is strata's executor and cache: it runs a frontend.Plan
// step by step (dispatch, with one function per metadata instruction in
// dispatch_meta.go), asks the cache for every step and says why it missed
// (cache), copies files for COPY/ADD (copy, add, source), runs RUN in the
// sandbox with its mounts (run), pauses and steps on request (control),
// exports and pushes the result (output), and drives repeated builds for
// the TUI (Session). It publishes what happens as build/event events.
//
// It imports build/frontend, build/event, build/snapshot, layers, sandbox
// and registry; nothing imports it but main (the TUI never does).
package build
