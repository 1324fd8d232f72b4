// Package rootfs gives tests the busybox root filesystem (assets.BusyboxRootfs
// over Debian's busybox-static) as a layer tar, made once per test binary.
package rootfs

import (
	"bytes"
	"sync"
	"testing"

	"github.com/strata-build/strata/assets"
)

var (
	once sync.Once
	tar  []byte
	err  error
)

// BusyboxTar is assets.BusyboxRootfs as bytes (made once); the test is
// skipped with the reason when no static busybox is installed.
func BusyboxTar(t testing.TB) []byte {
	t.Helper()
	once.Do(func() {
		bb, e := assets.FindBusybox()
		if e != nil {
			err = e
			return
		}
		var buf bytes.Buffer
		err = assets.BusyboxRootfs(&buf, bb)
		tar = buf.Bytes()
	})
	if err != nil {
		t.Skipf("no busybox rootfs: %v", err)
	}
	return tar
}
