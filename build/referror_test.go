package build

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/strata-build/strata/build/snapshot"
)

// TestInspectRefError: a reference that names no image (a bad form, a
// name neither stored nor a registry reference) is a *snapshot.RefError
// carrying the reference, which strata inspect tells by type, not by its
// words; an archive that cannot be read is another error.
func TestInspectRefError(t *testing.T) {
	store := newStore(t)
	for ref, want := range map[string]bool{
		"NoSuchImage:1":         true,
		"oci:":                  true,
		"docker-archive:f.tar:": true,
		"sha256:xyz":            true,
		"oci:" + filepath.Join(t.TempDir(), "missing"): false,
	} {
		_, err := snapshot.Inspect(context.Background(), store, ref)
		var re *snapshot.RefError
		if got := errors.As(err, &re); got != want || got && re.Ref != ref {
			t.Errorf("Inspect(%q) = %v (%T); RefError %v, want %v", ref, err, err, got, want)
		}
	}
}
