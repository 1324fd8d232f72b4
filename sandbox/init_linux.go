package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/strata-build/strata/internal/rootless"
)

// Init must be called first thing in main (and in TestMain). If this process
// was started by Run as a container init, it sets up the container and execs
// the command: it never returns then. Otherwise it returns immediately.
func Init() {
	if len(os.Args) == 0 || os.Args[0] != initArg {
		return
	}
	// Credentials, capabilities and the bounding set are per thread: do all of
	// it, and the final execve, on this one.
	runtime.LockOSThread()
	unix.CloseOnExec(configFD)
	unix.CloseOnExec(messageFD)
	msgs := os.NewFile(messageFD, "init-messages")
	enc := json.NewEncoder(msgs)

	st := &initState{send: func(m initMsg) { _ = enc.Encode(m) }}
	err := st.run()
	var execErr *ExecError
	if errors.As(err, &execErr) {
		st.send(initMsg{Exec: execErr})
	} else {
		st.send(initMsg{Error: err.Error()})
	}
	os.Exit(1)
}

type initState struct {
	send      func(initMsg)
	stubsSent bool
	rootfs    *rootfs
	// release is the config pipe, kept open: the parent closes its end
	// once the limits that must not count the init's own threads are set
	// (pids), and only then does the init exec the command.
	release *os.File
}

// sendStubs reports the mount point stubs once, on success and failure alike,
// so the parent can remove them from the upper dir.
func (s *initState) sendStubs() {
	if s.stubsSent || s.rootfs == nil {
		return
	}
	s.stubsSent = true
	s.rootfs.finishStubs()
	st := s.rootfs.stubs
	s.send(initMsg{Stubs: &st})
}

// run sets up the container and execs the command; it returns only errors.
func (s *initState) run() (err error) {
	defer func() {
		s.sendStubs()
	}()
	unix.Umask(0)
	// Die with the parent.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)

	var cfg initConfig
	f := os.NewFile(configFD, "init-config")
	if err := json.NewDecoder(f).Decode(&cfg); err != nil {
		return fmt.Errorf("read container config: %w", err)
	}
	s.release = f

	// Nothing below may propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return &MountError{Op: "mount", Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE, Err: err}
	}
	if err := mountOverlay(&cfg); err != nil {
		return err
	}
	r, err := openRootfs(cfg.Rootfs, cfg.Upper)
	if err != nil {
		return err
	}
	s.rootfs = r
	if err := setupRootfs(&cfg, r); err != nil {
		return err
	}
	s.sendStubs()
	unix.Close(r.fd)
	if err := pivotRoot(cfg.Rootfs); err != nil {
		return err
	}

	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("sethostname %q: %w", cfg.Hostname, err)
	}
	if cfg.NetNone || cfg.NetSlirp {
		if err := loopbackUp(); err != nil {
			return err
		}
	}

	passwd, err := readEntries("/etc/passwd", parsePasswd)
	if err != nil {
		return err
	}
	groups, err := readEntries("/etc/group", parseGroup)
	if err != nil {
		return err
	}
	u, err := resolveUser(cfg.User, passwd, groups)
	if err != nil {
		return err
	}
	hostnameEnv := cfg.Hostname
	if cfg.BuildEtc {
		hostnameEnv = "" // a BuildKit RUN step has no HOSTNAME
	}
	env := containerEnv(cfg.Env, u, cfg.Tty, hostnameEnv)

	dir := cfg.Dir
	if dir == "" {
		dir = "/"
	}
	if err := makeWorkdir(dir, u); err != nil {
		return err
	}
	if cfg.Tty {
		if err := setupConsole(consoleFD, u.UID); err != nil {
			return err
		}
	} else if err := ownStdio(u.UID); err != nil {
		return err
	}

	// Look the command up while still root (the lookup must see what the
	// user can see only for the exec itself, which checks permissions).
	argv0, err := lookPath(cfg.Args[0], env)
	if err != nil {
		return err
	}

	if err := setNofile(); err != nil {
		return err
	}
	if err := closeExtraFDs(); err != nil {
		return err
	}
	// Without no_new_privs, loading a seccomp filter needs CAP_SYS_ADMIN:
	// load it before the capabilities go, like runc does then. Everything
	// after it (setgroups, setres[ug]id, capset, prctl, chdir, execve) is on
	// the allowlist.
	if !cfg.NoSeccomp {
		if err := installSeccomp(); err != nil {
			return err
		}
	}
	if err := dropPrivileges(u); err != nil {
		return rootless.OwnerError(err, u.UID, u.GID) // rootless: a user it has not
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("chdir to working directory %s as uid %d: %w", dir, u.UID, err)
	}
	unix.Umask(0o022)

	s.send(initMsg{Ready: true})
	// Wait for the parent's go (EOF on the config pipe). A raw read: the
	// scheduler must not start another thread now, which a pids limit
	// set a moment ago would refuse.
	var b [1]byte
	unix.RawSyscall(unix.SYS_READ, s.release.Fd(), uintptr(unsafe.Pointer(&b[0])), 1)
	err = unix.Exec(argv0, cfg.Args, env)
	code := 126
	if errors.Is(err, unix.ENOENT) {
		code = 127
	}
	return &ExecError{Command: cfg.Args[0], Code: code, Err: err.Error()}
}

func envGet(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// containerEnv adds Docker's defaults: PATH, HOSTNAME (docker run's, when
// hostname is not ""), HOME and (with a tty) TERM.
func containerEnv(env []string, u execUser, tty bool, hostname string) []string {
	out := append([]string(nil), env...)
	if _, ok := envGet(out, "PATH"); !ok {
		out = append(out, "PATH="+DefaultPath)
	}
	if _, ok := envGet(out, "HOSTNAME"); !ok && hostname != "" {
		out = append(out, "HOSTNAME="+hostname)
	}
	if _, ok := envGet(out, "HOME"); !ok {
		out = append(out, "HOME="+u.Home)
	}
	if _, ok := envGet(out, "TERM"); !ok && tty {
		out = append(out, "TERM=xterm")
	}
	return out
}

// lookPath finds file in the container's PATH, like execvp.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	if file == "" {
		return "", &ExecError{Command: file, Code: 127, Err: "executable file not found in $PATH"}
	}
	p, _ := envGet(env, "PATH")
	var permErr error
	for _, dir := range filepath.SplitList(p) {
		if dir == "" {
			dir = "."
		}
		cand := path.Join(dir, file)
		var st unix.Stat_t
		if err := unix.Stat(cand, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			continue
		}
		if st.Mode&0o111 == 0 {
			permErr = unix.EACCES
			continue
		}
		return cand, nil
	}
	if permErr != nil {
		return "", &ExecError{Command: file, Code: 126, Err: "permission denied"}
	}
	return "", &ExecError{Command: file, Code: 127, Err: "executable file not found in $PATH"}
}

// makeWorkdir creates the working directory like runc: missing components are
// created 0755 and owned by the user.
func makeWorkdir(dir string, u execUser) error {
	dir = clean(dir)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err == nil {
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("working directory %s: not a directory", dir)
		}
		return nil
	}
	var missing []string
	for d := dir; d != "/"; d = path.Dir(d) {
		if err := unix.Stat(d, &st); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := unix.Mkdir(d, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create working directory %s: %w", d, err)
		}
		if err := unix.Lchown(d, u.UID, u.GID); err != nil {
			return fmt.Errorf("chown working directory %s to %d:%d: %w", d, u.UID, u.GID, err)
		}
	}
	return nil
}

// closeExtraFDs marks every fd above stderr close-on-exec, so the command
// inherits only stdio.
func closeExtraFDs() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// setNofile sets RLIMIT_NOFILE to 1048576 like Docker. Without
// CAP_SYS_RESOURCE the hard limit cannot be raised: then both become the
// current hard limit.
func setNofile() error {
	want := syscall.Rlimit{Cur: 1048576, Max: 1048576}
	err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	if err == nil {
		return nil
	}
	var cur syscall.Rlimit
	if gerr := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); gerr != nil || cur.Max >= want.Max {
		return fmt.Errorf("setrlimit RLIMIT_NOFILE %d: %w", want.Max, err)
	}
	cur.Cur = cur.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &cur); err != nil {
		return fmt.Errorf("setrlimit RLIMIT_NOFILE %d: %w", cur.Max, err)
	}
	return nil
}
