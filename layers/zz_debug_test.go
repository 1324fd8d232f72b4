package layers

import (
	"bytes"
	"os"
	"fmt"
	"testing"
	"time"
)

func FuzzDebug(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				os.WriteFile(fmt.Sprintf("/tmp/hang-%d", time.Now().UnixNano()), data, 0o644)
			}
		}()
		Extract(bytes.NewReader(data), dir)
		close(done)
	})
}
