package build

import (
	"os"
	"testing"

	"github.com/strata-build/strata/sandbox"
)

// TestMain lets the test binary act as the sandbox's container init (the
// shell and RUN tests start containers by re-executing it).
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}
