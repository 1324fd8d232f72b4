package build

// RUN --mount: bind mounts of the context, a stage or an image (resolved
// inside what they name), cache mounts (ids, sharing, seeding from=),
// secrets, tmpfs.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
	"golang.org/x/sys/unix"
)

// runMounts turns RUN --mount flags into sandbox mounts. release drops the
// cache mount locks taken for them: call it once the command has ended
// (also on failure and cancellation); runMounts releases them itself when it
// fails.
func (e *Executor) runMounts(ctx context.Context, st *stageState, step int, c *instructions.RunCommand) (out []sandbox.Mount, release func(), err error) {
	var locks []*os.File
	release = func() {
		for _, l := range locks {
			l.Close() // closing drops the flock
		}
		locks = nil
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	for _, m := range instructions.GetMounts(c) {
		flag := mountFlag(m)
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = path.Join("/", st.cfg.Config.WorkingDir, target)
		}
		if target == "" && (m.Type == instructions.MountTypeBind || m.Type == instructions.MountTypeCache || m.Type == instructions.MountTypeTmpfs) {
			return nil, release, fmt.Errorf("%s: needs target=PATH, where the mount appears in the container", flag)
		}
		switch m.Type {
		case instructions.MountTypeBind:
			if m.From != "" {
				src, err := e.mountFrom(ctx, st, step, m.From)
				if err != nil {
					return nil, release, fmt.Errorf("%s: %w", flag, err)
				}
				p, err := resolveInView(src.view, m.Source)
				if err != nil {
					return nil, release, fmt.Errorf("%s: %w in %s", flag, err, src.what)
				}
				// A read-only view of the stage's layers; rw gives a
				// writable throwaway copy (BuildKit).
				out = append(out, sandbox.Mount{Type: "overlay", Lower: layers.OverlayLowers(src.view.Lowers), Source: p, Target: target, ReadOnly: m.ReadOnly})
				continue
			}
			cs, err := newContextSource(e.Opt.ContextDir, e.Plan.Ignore, nil)
			if err != nil {
				return nil, release, err
			}
			src := m.Source
			if src == "" {
				src = "/"
			}
			p, err := cleanSource(src)
			if err != nil {
				return nil, release, fmt.Errorf("%s: %w", flag, err)
			}
			info, host, err := cs.stat(p, true)
			cs.close()
			if err != nil {
				return nil, release, fmt.Errorf("%s: %w", flag, err)
			}
			if m.ReadOnly {
				out = append(out, sandbox.Mount{Type: "bind", Source: host, Target: target, ReadOnly: true})
				continue
			}
			// rw: writable, but the writes must not reach the build
			// context: an overlay over it whose upper dir is thrown away.
			lower, inside := host, "/"
			if !info.IsDir() {
				lower, inside = filepath.Dir(host), "/"+filepath.Base(host)
			}
			out = append(out, sandbox.Mount{Type: "overlay", Lower: []string{lower}, Source: inside, Target: target})
		case instructions.MountTypeCache:
			mnt, lock, err := e.cacheMount(ctx, st, step, m, target)
			if err != nil {
				return nil, release, fmt.Errorf("%s: %w", flag, err)
			}
			if lock != nil {
				locks = append(locks, lock)
			}
			out = append(out, mnt)
		case instructions.MountTypeTmpfs:
			var opts []string
			if m.SizeLimit > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
			}
			out = append(out, sandbox.Mount{Type: "tmpfs", Target: target, Options: opts})
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = path.Base(m.Target)
			}
			src, ok := e.Opt.Secrets[id]
			if !ok {
				if m.Required {
					return nil, release, fmt.Errorf("--mount=type=secret,id=%s: no such secret: pass it with --secret id=%s,src=FILE", id, id)
				}
				continue
			}
			if target == "" {
				target = "/run/secrets/" + id
			}
			abs, err := filepath.Abs(src)
			if err != nil {
				return nil, release, err
			}
			if _, err := os.Stat(abs); err != nil {
				return nil, release, fmt.Errorf("--secret id=%s,src=%s: %w", id, src, err)
			}
			out = append(out, sandbox.Mount{Type: "bind", Source: abs, Target: target, ReadOnly: true})
		case instructions.MountTypeSSH:
			return nil, release, errors.New("--mount=type=ssh is not supported by strata")
		}
	}
	return out, release, nil
}

// mountFlag names a --mount flag in errors, the way it was written.
func mountFlag(m *instructions.Mount) string {
	s := "--mount=type=" + string(m.Type)
	if m.CacheID != "" && m.Type == instructions.MountTypeCache {
		s += ",id=" + m.CacheID
	}
	if m.From != "" {
		s += ",from=" + m.From
	}
	if m.Source != "" {
		s += ",source=" + m.Source
	}
	if m.Target != "" {
		s += ",target=" + m.Target
	}
	return s
}

// mountSource is the filesystem a --mount from= names.
type mountSource struct {
	view *layers.View
	what string   // "stage builder", "image alpine:3"
	ids  []string // its layer chain (diff IDs), bottom first
}

// mountFrom resolves from= the way COPY --from does: a stage of this
// Dockerfile by name or index, otherwise an image reference; step is the
// RUN's plan step.
func (e *Executor) mountFrom(ctx context.Context, st *stageState, step int, from string) (*mountSource, error) {
	what := "image " + from
	cfgSt, j, err := e.fromSource(ctx, step, from)
	if err != nil {
		return nil, err
	}
	if cfgSt == st {
		return nil, fmt.Errorf("a stage cannot mount itself: name an earlier stage")
	}
	if j >= 0 {
		what = "stage " + e.Plan.Stages[j].DisplayName()
	}
	src := &mountSource{view: cfgSt.view(e.Store), what: what}
	for _, id := range cfgSt.cfg.RootFS.DiffIDs {
		src.ids = append(src.ids, id.String())
	}
	return src, nil
}

// errEscapes: a source= that leads above the root of what it names.
var errEscapes = errors.New("leads outside the root")

// resolveInView resolves p inside v, following symlinks with the view's
// root as "/" (as the container sees it), and returns the resolved path. A
// ".." above the root, in p or in a symlink, is refused; so is a path that
// does not exist.
func resolveInView(v *layers.View, p string) (string, error) {
	if p == "" {
		p = "/"
	}
	orig := p
	rest := strings.Split(p, "/")
	cur := "/"
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == "/" {
				return "", fmt.Errorf("source %s: %w", orig, errEscapes)
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		ent, err := v.Lstat(next)
		if err != nil {
			return "", fmt.Errorf("source %s: %s not found", orig, next)
		}
		if ent.Info.Mode()&fs.ModeSymlink == 0 {
			if len(rest) > 0 && !ent.Info.IsDir() && strings.Trim(strings.Join(rest, "/"), "/.") != "" {
				return "", fmt.Errorf("source %s: %s is not a directory", orig, next)
			}
			cur = next
			continue
		}
		if hops++; hops > 255 {
			return "", fmt.Errorf("source %s: too many levels of symbolic links", orig)
		}
		target, err := v.Readlink(ent)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		// The link's own ".." is checked like the user's: a relative link
		// that climbs above the root leads outside it.
		if escapesFrom(cur, strings.Split(target, "/")) {
			return "", fmt.Errorf("source %s: symlink %s -> %s %w", orig, next, target, errEscapes)
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// escapesFrom reports whether the path components, taken lexically from
// dir, climb above "/".
func escapesFrom(dir string, comps []string) bool {
	depth := 0
	if dir != "/" {
		depth = strings.Count(dir, "/")
	}
	for _, c := range comps {
		switch c {
		case "", ".":
		case "..":
			if depth == 0 {
				return true
			}
			depth--
		default:
			depth++
		}
	}
	return false
}

// Cache mounts live in ROOT/cache/mounts/<name>/: data/ (the shared
// instance), lock (its flock), private/<n>/ and private/<n>.lock (extra
// instances made for sharing=private).
//
// sharing=shared (the default) takes a shared lock, sharing=locked an
// exclusive one, waiting for it; sharing=private takes the exclusive lock of
// the first instance nobody uses, or makes a new instance. The locks are
// held until the command ends.
func (e *Executor) cacheMount(ctx context.Context, st *stageState, step int, m *instructions.Mount, target string) (sandbox.Mount, *os.File, error) {
	id := m.CacheID
	if id == "" {
		id = target
	}
	key := id
	var seed *mountSource
	seedPath := "/"
	if m.From != "" {
		src, err := e.mountFrom(ctx, st, step, m.From)
		if err != nil {
			return sandbox.Mount{}, nil, err
		}
		if seedPath, err = resolveInView(src.view, m.Source); err != nil {
			return sandbox.Mount{}, nil, fmt.Errorf("%w in %s", err, src.what)
		}
		if ent, err := src.view.Lstat(seedPath); err != nil || !ent.Info.IsDir() {
			return sandbox.Mount{}, nil, fmt.Errorf("source %s in %s: a cache mount is seeded from a directory", seedPath, src.what)
		}
		seed = src
		// Like BuildKit, a cache seeded from something else is another
		// cache.
		key += "\x00" + strings.Join(src.ids, ",") + "\x00" + seedPath
	}
	sum := sha256.Sum256([]byte(key))
	name := safeName(id)
	if len(name) > 64 {
		name = name[:64]
	}
	base := filepath.Join(e.Store.Root(), "cache", "mounts", name+"-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(filepath.Join(base, "private"), 0o700); err != nil {
		return sandbox.Mount{}, nil, err
	}
	fill := func(dir string) error {
		return initCacheDir(dir, m, seed, seedPath)
	}
	sharing := m.CacheSharing
	if sharing == "" {
		sharing = instructions.MountSharingShared
	}
	waiting := func() {
		e.emit(event.StepLog{Base: event.Now(), Step: step, Stream: "info", Line: fmt.Sprintf("waiting for cache mount %s (sharing=%s): another build is using it", id, sharing)})
	}
	dir := filepath.Join(base, "data")
	var lock *os.File
	var err error
	switch sharing {
	case instructions.MountSharingShared, instructions.MountSharingLocked:
		how := unix.LOCK_SH
		if sharing == instructions.MountSharingLocked {
			how = unix.LOCK_EX
		}
		if lock, _, err = flockFile(ctx, filepath.Join(base, "lock"), how, waiting); err != nil {
			return sandbox.Mount{}, nil, err
		}
	case instructions.MountSharingPrivate:
		dir, lock, err = privateCacheDir(ctx, base, fill)
		if err != nil {
			return sandbox.Mount{}, nil, err
		}
	default:
		return sandbox.Mount{}, nil, fmt.Errorf("sharing=%s: want shared, private or locked", sharing)
	}
	if err := ensureDir(dir, fill); err != nil {
		lock.Close()
		return sandbox.Mount{}, nil, fmt.Errorf("create cache dir %s: %w", dir, err)
	}
	return sandbox.Mount{Type: "bind", Source: dir, Target: target, ReadOnly: m.ReadOnly}, lock, nil
}

// privateCacheDir takes the shared instance when nobody uses it, else the
// first unused private instance, else a new one; it returns the instance
// dir (maybe not created yet) and its exclusive lock.
func privateCacheDir(ctx context.Context, base string, fill func(string) error) (string, *os.File, error) {
	if lock, ok, err := flockFile(ctx, filepath.Join(base, "lock"), unix.LOCK_EX, nil); err != nil || ok {
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
			if lock, ok, err := flockFile(ctx, p+".lock", unix.LOCK_EX, nil); err != nil {
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
		if err := ensureDir(p, fill); err != nil {
			return "", nil, err
		}
		// Someone may take it first: then look again.
		if lock, ok, err := flockFile(ctx, p+".lock", unix.LOCK_EX, nil); err != nil || ok {
			return p, lock, err
		}
	}
	return "", nil, errors.New("sharing=private: no free cache instance after 1000 tries")
}

// flockFile locks the file p (created if missing) with how (LOCK_SH or
// LOCK_EX). With wait nil it does not wait: ok is false when the lock is
// taken. Otherwise it calls wait once and waits until it gets the lock or
// ctx ends.
func flockFile(ctx context.Context, p string, how int, wait func()) (f *os.File, ok bool, err error) {
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

// ensureDir creates dir, if it does not exist, atomically: fill prepares a
// temporary dir beside it, which is then renamed into place (never over an
// instance another build made meanwhile).
func ensureDir(dir string, fill func(string) error) error {
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

// initCacheDir prepares a new cache dir: seeded from the from= source when
// there is one (its root taking the source dir's owner and mode), then
// uid=, gid= and mode= (defaults 0, 0 and 0755, as BuildKit).
func initCacheDir(dir string, m *instructions.Mount, seed *mountSource, seedPath string) error {
	uid, gid, mode := 0, 0, uint32(0o755)
	if seed != nil {
		root, err := seed.view.Lstat(seedPath)
		if err != nil {
			return err
		}
		if sys, ok := root.Info.Sys().(*syscall.Stat_t); ok {
			uid, gid, mode = int(sys.Uid), int(sys.Gid), sys.Mode&0o7777
		}
		if err := copyViewTree(seed.view, seedPath, dir); err != nil {
			return fmt.Errorf("seed from %s: %w", seed.what, err)
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
	in, err := openRegular(v.Open(ent))
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

func safeName(s string) string {
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
