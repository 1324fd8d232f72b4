package tui

import "github.com/strata-build/strata/build/event"

// buildTime is how long a build took, the time it spent paused apart:
// "0.5s (+1m00s paused)".
func buildTime(d *event.BuildDone) string {
	s := humanDuration(d.Duration)
	if d.Paused > 0 {
		s += " (+" + humanDuration(d.Paused) + " paused)"
	}
	return s
}
