package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/platforms"
)

// foreign is a platform this machine does not run natively.
func foreign() string {
	if platforms.Host().Architecture == "arm64" {
		return "linux/amd64"
	}
	return "linux/arm64"
}

const crossDockerfile = `FROM --platform=$BUILDPLATFORM scratch AS builder
ADD a /a
RUN build
FROM scratch AS meta
ENV X=1
FROM scratch
COPY --from=builder /a /a
RUN test
`

func TestEmulatedStages(t *testing.T) {
	p, err := frontend.Parse("Dockerfile", []byte(crossDockerfile), frontend.Options{Platform: foreign()})
	if err != nil {
		t.Fatal(err)
	}
	// The builder runs natively; the last stage's RUN is emulated; the
	// stage without RUN needs nothing.
	if got := EmulatedStages(p); len(got) != 1 || got[0] != 2 {
		t.Errorf("EmulatedStages = %v, want [2]", got)
	}
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "register"), nil, 0o200)
	err = CheckEmulators(p, empty)
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:6") || !strings.Contains(err.Error(), "apt-get install qemu-user-static binfmt-support") || !strings.Contains(err.Error(), foreign()) {
		t.Errorf("CheckEmulators with no handler: %v", err)
	}
	native, err := frontend.Parse("Dockerfile", []byte(crossDockerfile), frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := EmulatedStages(native); len(got) != 0 {
		t.Errorf("a host build's EmulatedStages = %v, want none", got)
	}
	if err := CheckEmulators(native, empty); err != nil {
		t.Errorf("a host build needs no emulator: %v", err)
	}
}

func TestCheckMultiOptions(t *testing.T) {
	err := checkMultiOptions(frontend.Options{Outputs: []frontend.Output{{Type: "docker", Dest: "app.tar"}}}, 2, nil)
	if err == nil || !strings.Contains(err.Error(), "type=oci") || !strings.Contains(err.Error(), "type=registry") {
		t.Errorf("type=docker with 2 platforms: %v", err)
	}
	if err := checkMultiOptions(frontend.Options{Outputs: []frontend.Output{{Type: "oci", Dest: "out"}, {Type: "registry"}}}, 2, nil); err != nil {
		t.Errorf("oci and registry outputs refused: %v", err)
	}
}
