package frontend

import (
	"testing"

	"github.com/strata-build/strata/internal/testutil"
)

// Helpers the front end's tests share with build's (in testutil).

// writeTree writes files into dir (testutil.WriteTree's notation).
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	testutil.WriteTree(t, dir, files)
}
