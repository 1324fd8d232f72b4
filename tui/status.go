package tui

import "github.com/strata-build/strata/build/event"

// statusLife says until when the status line is true: a status describes
// now, or goes.
type statusLife int

const (
	// untilKey: what the last key did; it goes with the next key, or when
	// a new build starts (a rebuild, also one the watcher started, makes
	// it about a build that is gone).
	untilKey statusLife = iota
	// whileBuilding: what the build is doing now (rebuilding…, running a
	// step and pausing after it, continuing): it goes when the build
	// pauses or ends, however it ends.
	whileBuilding
)

// setStatusWhile sets a status that describes the running build.
func (m *model) setStatusWhile(kind statusKind, msg string) {
	m.setStatus(kind, msg)
	m.statusLife = whileBuilding
}

// statusOnEvent drops the status an event makes untrue; a save's progress
// stays (it is about the save, not the build).
func (m *model) statusOnEvent(ev event.Event) {
	if m.saving || m.status == "" {
		return
	}
	switch ev.(type) {
	case event.PlanReady, *event.PlanReady:
		if m.b.builds > 1 && m.statusLife != whileBuilding {
			m.status = ""
		}
	case event.BuildDone, *event.BuildDone, event.Paused, *event.Paused:
		if m.statusLife == whileBuilding {
			m.status = ""
		}
	}
}
