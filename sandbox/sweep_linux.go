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
// in tmpRoot (default os.TempDir()) whose owner process is gone, and empty
// strata cgroups older than a minute below this process's cgroups. Mounts
// need no sweeping: they only ever exist in the containers' own mount
// namespaces and vanish with them.
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
				dir := filepath.Join(parent, e.Name())
				info, err := e.Info()
				if err != nil || time.Since(info.ModTime()) < time.Minute {
					continue
				}
				if b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil && len(strings.TrimSpace(string(b))) == 0 {
					if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
						errs = append(errs, fmt.Errorf("sandbox: sweep cgroup %s: %w", dir, err))
					}
				}
			}
		}
	}
	return errors.Join(errs...)
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
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
