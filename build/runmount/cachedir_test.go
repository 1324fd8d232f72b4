package runmount

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFlockFile: a second exclusive lock is refused without waiting, a
// shared one beside a shared one is granted, a wait ends with the context,
// and closing the file lets the lock go.
func TestFlockFile(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "lock")
	a, ok, err := FlockFile(ctx, p, unix.LOCK_EX, nil)
	if err != nil || !ok {
		t.Fatalf("first lock: ok=%v %v", ok, err)
	}
	if f, ok, err := FlockFile(ctx, p, unix.LOCK_EX, nil); err != nil || ok || f != nil {
		t.Errorf("second exclusive lock while held: ok=%v %v, want refused", ok, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	waited := false
	cancel()
	if _, ok, err := FlockFile(cctx, p, unix.LOCK_SH, func() { waited = true }); ok || !errors.Is(err, context.Canceled) || !waited {
		t.Errorf("cancelled wait: ok=%v err=%v waited=%v, want context.Canceled after saying it waits", ok, err, waited)
	}
	a.Close()
	s1, ok1, err1 := FlockFile(ctx, p, unix.LOCK_SH, nil)
	s2, ok2, err2 := FlockFile(ctx, p, unix.LOCK_SH, nil)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		t.Errorf("two shared locks after release: %v %v %v %v", ok1, ok2, err1, err2)
	}
	s1.Close()
	s2.Close()
}

// TestEnsureDir: a missing dir is made through fill in one rename; an
// existing one is left as it is; a fill that fails leaves nothing.
func TestEnsureDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	fill := func(d string) error { return os.WriteFile(filepath.Join(d, "seed"), []byte("1"), 0o644) }
	if err := EnsureDir(dir, fill); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "seed")); err != nil || string(b) != "1" {
		t.Errorf("seed %q, %v", b, err)
	}
	if err := EnsureDir(dir, func(string) error { return errors.New("must not be called") }); err != nil {
		t.Errorf("existing dir: %v", err)
	}
	bad := filepath.Join(base, "bad")
	if err := EnsureDir(bad, func(string) error { return errors.New("boom") }); err == nil {
		t.Error("a failing fill gave no error")
	}
	ents, _ := os.ReadDir(base)
	if len(ents) != 1 || ents[0].Name() != "data" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left in %s: %v, want only data", base, names)
	}
}

// TestPrivateCacheDir: the shared instance first, then a new private one
// while it is held, then the free private one again.
func TestPrivateCacheDir(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	fill := func(string) error { return nil }
	d0, l0, err := PrivateCacheDir(ctx, base, fill)
	if err != nil || d0 != filepath.Join(base, "data") {
		t.Fatalf("first: %s %v, want the shared instance", d0, err)
	}
	d1, l1, err := PrivateCacheDir(ctx, base, fill)
	if err != nil || d1 != filepath.Join(base, "private", "0") {
		t.Fatalf("second: %s %v, want private/0", d1, err)
	}
	if fi, err := os.Stat(d1); err != nil || !fi.IsDir() {
		t.Errorf("private/0 not made: %v", err)
	}
	l1.Close()
	d2, l2, err := PrivateCacheDir(ctx, base, fill)
	if err != nil || d2 != d1 {
		t.Errorf("third: %s %v, want the free %s again", d2, err, d1)
	}
	l0.Close()
	l2.Close()
}

func TestSafeName(t *testing.T) {
	if got := SafeName("/root/.cache/go-build ü"); got != "_root_.cache_go-build__" {
		t.Errorf("SafeName = %q", got)
	}
}
