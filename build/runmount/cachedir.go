package runmount

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/layers/beneath"
)

// PrivateCacheDir takes the shared instance when nobody uses it, else the
// first unused private instance, else a new one; it returns the instance
// dir (maybe not created yet) and its exclusive lock.
func PrivateCacheDir(ctx context.Context, base string, fill func(string) error) (string, *os.File, error) {
	if lock, ok, err := FlockFile(ctx, filepath.Join(base, "lock"), unix.LOCK_EX, nil); err != nil || ok {
		return filepath.Join(base, "data"), lock, err
	}
	for try := 0; try < 1000; try++ {
		ents, err := os.ReadDir(filepath.Join(base, "private"))
		if err != nil {
			return "", nil, err
		}
		var nums []int
		for _, e := range ents {
			if n, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
				nums = append(nums, n)
			}
		}
		slices.Sort(nums)
		for _, n := range nums {
			p := filepath.Join(base, "private", strconv.Itoa(n))
			if lock, ok, err := FlockFile(ctx, p+".lock", unix.LOCK_EX, nil); err != nil {
				return "", nil, err
			} else if ok {
				return p, lock, nil
			}
		}
		// All in use: a new instance, numbered after the last one.
		next := 0
		if len(nums) > 0 {
			next = nums[len(nums)-1] + 1
		}
		p := filepath.Join(base, "private", strconv.Itoa(next))
		if err := EnsureDir(p, fill); err != nil {
			return "", nil, err
		}
		// Someone may take it first: then look again.
		if lock, ok, err := FlockFile(ctx, p+".lock", unix.LOCK_EX, nil); err != nil || ok {
			return p, lock, err
		}
	}
	return "", nil, errors.New("sharing=private: no free cache instance after 1000 tries")
}

// FlockFile locks the file p (created if missing) with how (LOCK_SH or
// LOCK_EX). With wait nil it does not wait: ok is false when the lock is
// taken. Otherwise it calls wait once and waits until it gets the lock or
// ctx ends.
func FlockFile(ctx context.Context, p string, how int, wait func()) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, err
	}
	delay := 5 * time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return f, true, nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, false, fmt.Errorf("lock %s: %w", p, err)
		}
		if wait == nil {
			f.Close()
			return nil, false, nil
		}
		wait()
		wait = func() {}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, false, context.Cause(ctx)
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// EnsureDir creates dir, if it does not exist, atomically: fill prepares a
// temporary dir beside it, which is then renamed into place (never over an
// instance another build made meanwhile).
func EnsureDir(dir string, fill func(string) error) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".new-")
	if err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		layers.RemoveAll(tmp)
		return err
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE); err != nil {
		layers.RemoveAll(tmp)
		if _, serr := os.Lstat(dir); serr == nil {
			return nil
		}
		return err
	}
	return nil
}

// InitCacheDir prepares a new cache dir: seeded from the from= source when
// there is one (its root taking the source dir's owner and mode), then
// uid=, gid= and mode= (defaults 0, 0 and 0755, as BuildKit).
func InitCacheDir(dir string, m *instructions.Mount, seed *Source, seedPath string) error {
	uid, gid, mode := 0, 0, uint32(0o755)
	if seed != nil {
		root, err := seed.View.Lstat(seedPath)
		if err != nil {
			return err
		}
		if sys, ok := root.Info.Sys().(*syscall.Stat_t); ok {
			uid, gid, mode = int(sys.Uid), int(sys.Gid), sys.Mode&0o7777
		}
		if err := copyViewTree(seed.View, seedPath, dir); err != nil {
			return fmt.Errorf("seed from %s: %w", seed.What, err)
		}
	}
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if m.Mode != nil {
		mode = uint32(*m.Mode) & 0o7777
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return err
	}
	// unix.Chmod, not os.Chmod: os.FileMode(0o1777) would lose the sticky bit.
	return unix.Chmod(dir, mode)
}

// copyViewTree copies what is below src in v into the existing dir dst:
// dirs, files, symlinks, fifos and devices, with owners, modes and times
// (hard links become copies).
func copyViewTree(v *layers.View, src, dst string) error {
	type dirTimes struct {
		p  string
		ts []unix.Timespec
	}
	var dirs []dirTimes
	err := v.Walk(src, func(ent *layers.Entry) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(ent.Path, src), "/")
		if rel == "" {
			return nil
		}
		p := filepath.Join(dst, rel)
		sys, _ := ent.Info.Sys().(*syscall.Stat_t)
		if sys == nil {
			return fmt.Errorf("%s: no stat", ent.Path)
		}
		ts := []unix.Timespec{unix.NsecToTimespec(sys.Atim.Nano()), unix.NsecToTimespec(sys.Mtim.Nano())}
		switch mode := ent.Info.Mode(); {
		case mode.IsDir():
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirTimes{p, ts})
		case mode.IsRegular():
			if err := copyFileTo(v, ent, p); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			target, err := v.Readlink(ent)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, p); err != nil {
				return err
			}
		default:
			if err := unix.Mknod(p, sys.Mode, int(sys.Rdev)); err != nil {
				return fmt.Errorf("mknod %s: %w", ent.Path, err)
			}
		}
		if err := os.Lchown(p, int(sys.Uid), int(sys.Gid)); err != nil {
			return err
		}
		if ent.Info.Mode()&fs.ModeSymlink == 0 {
			if err := unix.Chmod(p, sys.Mode&0o7777); err != nil {
				return err
			}
		}
		if !ent.Info.IsDir() {
			return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, dirs[i].p, dirs[i].ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}

// copyFileTo copies the view's regular file ent (read beneath its layer)
// to the new file dst.
func copyFileTo(v *layers.View, ent *layers.Entry, dst string) error {
	in, err := beneath.OpenRegular(v.Open(ent))
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// SafeName is s with every character but letters, digits, '-', '_' and
// '.' replaced by '_': a cache mount's id as a file name.
func SafeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
