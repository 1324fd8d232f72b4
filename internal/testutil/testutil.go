// Package testutil holds the helpers the tests of several packages share:
// the root check and a store in a temporary dir. It imports nothing of
// strata, so every package's tests can use it (layers' too); the busybox
// root filesystem, which is made through assets (and so layers), is in
// the sub-package rootfs.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireRoot skips the test unless it runs as root; why says what needs
// root (CI runs as root, so nothing skips there).
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root: %s (CI runs as root)", why)
	}
}

// TempStore opens a store (open is layers.Open) in DIR/root of a fresh
// temporary dir, closed when the test ends.
func TempStore[S interface{ Close() error }](t testing.TB, open func(string) (S, error)) S {
	t.Helper()
	s, err := open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
