package sandbox

import (
	"os"
	"testing"
)

// TestMain lets the test binary act as the container init when Run
// re-executes it.
func TestMain(m *testing.M) {
	Init()
	code := m.Run()
	cleanupReport()
	os.Exit(code)
}
