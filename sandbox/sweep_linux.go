package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Sweep removes what runs of a crashed process left behind: run directories
// in tmpRoot (default os.TempDir()) whose owner process is gone, and the
// strata cgroups below this process's cgroups whose owner process is gone
// (or, for names without an owner, empty ones older than a minute).
// Mounts need no sweeping: they only ever exist in the containers' own
// mount namespaces and vanish with them. Programs call it at start, as
// strata does when it opens its store.
func Sweep(tmpRoot string) error {
	if tmpRoot == "" {
		tmpRoot = os.TempDir()
	}
	var errs []error
	ents, err := os.ReadDir(tmpRoot)
	if err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), runDirPrefix) {
			continue
		}
		dir := filepath.Join(tmpRoot, e.Name())
		if ownerAlive(dir) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: sweep %s: %w", dir, err))
		}
	}
	if parents, err := cgroupParents(); err == nil {
		for _, parent := range parents {
			ents, _ := os.ReadDir(parent)
			for _, e := range ents {
				if !e.IsDir() || !strings.HasPrefix(e.Name(), cgroupPrefix) {
					continue
				}
				if err := sweepCgroup(filepath.Join(parent, e.Name()), e); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// sweepCgroup removes a strata cgroup left by a process that is gone. What
// is still in it is a container that outlived its strata, or one still
// dying (its init not reaped yet): it is killed, and the removal waits a
// little for it. A cgroup named without an owner is removed only when it
// is empty and older than a minute.
func sweepCgroup(dir string, e os.DirEntry) error {
	if pid := cgroupOwner(e.Name()); pid > 0 {
		if pidAlive(pid) {
			return nil
		}
		if err := removeCgroupDir(dir); err != nil {
			return fmt.Errorf("sandbox: sweep: %w", err)
		}
		return nil
	}
	if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < time.Minute {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || len(strings.TrimSpace(string(b))) != 0 {
		return nil
	}
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("sandbox: sweep cgroup %s: %w", dir, err)
	}
	return nil
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ownerAlive reports whether the process that created a run dir still runs.
func ownerAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		// Being created right now, or very old: judge by age.
		info, err := os.Stat(dir)
		return err == nil && time.Since(info.ModTime()) < time.Minute
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	return pidAlive(pid)
}
