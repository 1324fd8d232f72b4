package build

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/internal/platforms"
)

// A step two platform runs share is built by one; the other waits, then
// goes on (to find it in the cache).
func TestKeyLocks(t *testing.T) {
	k := NewKeyLocks()
	a, b := &stageState{}, &stageState{}
	ctx := context.Background()
	if err := k.acquire(ctx, a, "k1"); err != nil {
		t.Fatal(err)
	}
	var got atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := k.acquire(ctx, b, "k1"); err == nil {
			got.Store(true)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if got.Load() {
		t.Fatal("b took k1 while a held it")
	}
	// a's next step lets go of k1.
	if err := k.acquire(ctx, a, "k2"); err != nil {
		t.Fatal(err)
	}
	<-done
	if !got.Load() {
		t.Fatal("b never got k1")
	}
	k.release(a)
	k.release(b)
	if len(k.keys) != 0 || len(k.held) != 0 {
		t.Errorf("keys left held: %v %v", k.keys, k.held)
	}
	// A cancelled wait ends.
	k.acquire(ctx, a, "k3")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := k.acquire(cctx, b, "k3"); err == nil {
		t.Error("a cancelled wait for a held key returned no error")
	}
	var nilLocks *KeyLocks
	if err := nilLocks.acquire(ctx, a, "x"); err != nil {
		t.Error(err)
	}
	nilLocks.release(a)
}

// The platform args are BuildKit's: --platform linux/arm64 (or
// linux/arm64/v8) is TARGETPLATFORM=linux/arm64 with no TARGETVARIANT;
// arm/v7 keeps its variant.
func TestPlatformArgsAsBuildKit(t *testing.T) {
	for _, c := range []struct{ flag, platform, arch, variant string }{
		{"linux/arm64", "linux/arm64", "arm64", ""},
		{"linux/arm64/v8", "linux/arm64", "arm64", ""},
		{"linux/aarch64", "linux/arm64", "arm64", ""},
		{"linux/arm/v7", "linux/arm/v7", "arm", "v7"},
		{"linux/armhf", "linux/arm/v7", "arm", "v7"},
		{"linux/amd64", "linux/amd64", "amd64", ""},
		{"linux/x86_64", "linux/amd64", "amd64", ""},
	} {
		p, err := frontend.Parse("Dockerfile", []byte("FROM scratch\n"), frontend.Options{Platform: c.flag})
		if err != nil {
			t.Fatal(err)
		}
		g := p.GlobalArgs
		if g["TARGETPLATFORM"] != c.platform || g["TARGETARCH"] != c.arch || g["TARGETVARIANT"] != c.variant || g["TARGETOS"] != "linux" {
			t.Errorf("--platform %s: TARGETPLATFORM=%q TARGETARCH=%q TARGETVARIANT=%q, want %q %q %q", c.flag, g["TARGETPLATFORM"], g["TARGETARCH"], g["TARGETVARIANT"], c.platform, c.arch, c.variant)
		}
		if g["BUILDPLATFORM"] != platforms.Format(platforms.Host()) || strings.HasSuffix(g["BUILDPLATFORM"], "/v8") {
			t.Errorf("BUILDPLATFORM=%q", g["BUILDPLATFORM"])
		}
	}
}
