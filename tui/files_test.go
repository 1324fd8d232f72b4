package tui

import (
	"io/fs"
	"testing"

	"github.com/strata-build/strata/layers"
)

// The Files tab (and Compare, and inspect, which render through it) shows
// modes as ls -l does: setuid, setgid and sticky included.
func TestFilesModeAsLs(t *testing.T) {
	for _, tc := range []struct {
		ch   layers.Change
		want string
	}{
		{layers.Change{Path: "/bin/busybox", Type: layers.TypeRegular, Mode: 0o755 | fs.ModeSetuid}, "-rwsr-xr-x"},
		{layers.Change{Path: "/tmp", Type: layers.TypeDir, Mode: fs.ModeDir | 0o777 | fs.ModeSticky}, "drwxrwxrwt"},
		{layers.Change{Path: "/srv/shared", Type: layers.TypeDir, Mode: fs.ModeDir | 0o775 | fs.ModeSetgid}, "drwxrwsr-x"},
	} {
		if got := modeString(&fnode{ch: tc.ch}); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.ch.Path, got, tc.want)
		}
	}
}
