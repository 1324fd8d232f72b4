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
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/strata-build/strata/build/event"
	"github.com/strata-build/strata/build/runmount"
	"github.com/strata-build/strata/build/source"
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
				p, err := runmount.ResolveInView(src.View, m.Source)
				if err != nil {
					return nil, release, fmt.Errorf("%s: %w in %s", flag, err, src.What)
				}
				// A read-only view of the stage's layers; rw gives a
				// writable throwaway copy (BuildKit).
				out = append(out, sandbox.Mount{Type: "overlay", Lower: layers.OverlayLowers(src.View.Lowers), Source: p, Target: target, ReadOnly: m.ReadOnly})
				continue
			}
			cs, err := source.NewContext(e.Opt.ContextDir, e.Plan.Ignore, nil)
			if err != nil {
				return nil, release, err
			}
			src := m.Source
			if src == "" {
				src = "/"
			}
			p, err := source.Clean(src)
			if err != nil {
				return nil, release, fmt.Errorf("%s: %w", flag, err)
			}
			info, host, err := cs.Stat(p, true)
			cs.Close()
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

// mountFrom resolves from= the way COPY --from does: a stage of this
// Dockerfile by name or index, otherwise an image reference; step is the
// RUN's plan step.
func (e *Executor) mountFrom(ctx context.Context, st *stageState, step int, from string) (*runmount.Source, error) {
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
	src := &runmount.Source{View: cfgSt.view(e.Store), What: what}
	for _, id := range cfgSt.cfg.RootFS.DiffIDs {
		src.IDs = append(src.IDs, id.String())
	}
	return src, nil
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
	var seed *runmount.Source
	seedPath := "/"
	if m.From != "" {
		src, err := e.mountFrom(ctx, st, step, m.From)
		if err != nil {
			return sandbox.Mount{}, nil, err
		}
		if seedPath, err = runmount.ResolveInView(src.View, m.Source); err != nil {
			return sandbox.Mount{}, nil, fmt.Errorf("%w in %s", err, src.What)
		}
		if ent, err := src.View.Lstat(seedPath); err != nil || !ent.Info.IsDir() {
			return sandbox.Mount{}, nil, fmt.Errorf("source %s in %s: a cache mount is seeded from a directory", seedPath, src.What)
		}
		seed = src
		// Like BuildKit, a cache seeded from something else is another
		// cache.
		key += "\x00" + strings.Join(src.IDs, ",") + "\x00" + seedPath
	}
	sum := sha256.Sum256([]byte(key))
	name := runmount.SafeName(id)
	if len(name) > 64 {
		name = name[:64]
	}
	base := filepath.Join(e.Store.Root(), "cache", "mounts", name+"-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(filepath.Join(base, "private"), 0o700); err != nil {
		return sandbox.Mount{}, nil, err
	}
	fill := func(dir string) error {
		return runmount.InitCacheDir(dir, m, seed, seedPath)
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
		if lock, _, err = runmount.FlockFile(ctx, filepath.Join(base, "lock"), how, waiting); err != nil {
			return sandbox.Mount{}, nil, err
		}
	case instructions.MountSharingPrivate:
		dir, lock, err = runmount.PrivateCacheDir(ctx, base, fill)
		if err != nil {
			return sandbox.Mount{}, nil, err
		}
	default:
		return sandbox.Mount{}, nil, fmt.Errorf("sharing=%s: want shared, private or locked", sharing)
	}
	if err := runmount.EnsureDir(dir, fill); err != nil {
		lock.Close()
		return sandbox.Mount{}, nil, fmt.Errorf("create cache dir %s: %w", dir, err)
	}
	return sandbox.Mount{Type: "bind", Source: dir, Target: target, ReadOnly: m.ReadOnly}, lock, nil
}
