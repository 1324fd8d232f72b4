//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
)

// Init returns immediately: no container init exists on this platform.
func Init() {}

// Supported reports why the sandbox cannot run here.
func Supported() error {
	return fmt.Errorf("sandbox needs Linux namespaces, this is %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// Run is not supported on this platform.
func Run(ctx context.Context, spec *Spec, stdout, stderr io.Writer) (int, error) {
	return -1, Supported()
}

// Sweep is not supported on this platform.
func Sweep(tmpRoot string) error { return Supported() }

// CheckNetwork is not supported on this platform.
func CheckNetwork(network string) error { return Supported() }
