// Package rootless runs a normal user's strata in a user namespace where it
// is root, as rootless podman and buildah do (buildah unshare): Enter
// re-executes the binary in a new user and mount namespace whose uid and gid
// maps are 0 → the user and 1..N → the user's /etc/subuid and /etc/subgid
// range (written by the setuid newuidmap and newgidmap of the uidmap
// package), or 0 → the user alone when there is no range. Inside, the store,
// the overlay mounts and the RUN sandbox work as for root; files of uid N in
// an image belong to the host's subordinate id start+N-1.
//
// Before anything is created, Check says why a user namespace cannot be had
// here (user.max_user_namespaces=0, kernel.unprivileged_userns_clone=0,
// AppArmor's kernel.apparmor_restrict_unprivileged_userns=1) and what the
// user can do about it.
package rootless

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment of the re-executed strata: stageEnv is "wait" in the first
// exec (no mapping yet: wait on fd 3 for the parent's newuidmap), then
// "inside" after the second exec, which makes the process root of the
// namespace with full capabilities.
const (
	stageEnv    = "_STRATA_USERNS"
	stageWait   = "wait"
	stageInside = "inside"
)

// Range is one line of /etc/subuid or /etc/subgid for the user.
type Range struct {
	Start, Count int64
}

// IDMap is one line of /proc/PID/uid_map: Count ids from Inside map to
// Outside.
type IDMap struct {
	Inside  int64 `json:"inside"`
	Outside int64 `json:"outside"`
	Count   int64 `json:"count"`
}

// Inside reports whether this process is a strata that Enter re-executed
// into its user namespace.
func Inside() bool {
	return os.Getenv(stageEnv) == stageInside && os.Geteuid() == 0 && !initialUserNS()
}

// Rootless reports whether strata runs for a normal user: outside the
// namespace (euid not 0) or inside the one Enter made.
func Rootless() bool {
	return os.Geteuid() != 0 || Inside()
}

// SingleMapping reports whether this process runs in a user namespace that
// maps one id only (a rootless strata without a subordinate range): other
// owners cannot be represented there.
func SingleMapping() bool {
	if !InUserNS() {
		return false
	}
	m, err := ReadMap("/proc/self/uid_map")
	return err == nil && len(m) == 1 && m[0].Count == 1
}

// initialUserNS reports whether the process is in the host's user
// namespace (the identity map of every id).
func initialUserNS() bool {
	m, err := ReadMap("/proc/self/uid_map")
	if err != nil {
		return true
	}
	return len(m) == 1 && m[0] == IDMap{0, 0, 4294967295}
}

// ReadMap parses a /proc/PID/uid_map or gid_map file.
func ReadMap(path string) ([]IDMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []IDMap
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		var m IDMap
		var errs [3]error
		m.Inside, errs[0] = strconv.ParseInt(f[0], 10, 64)
		m.Outside, errs[1] = strconv.ParseInt(f[1], 10, 64)
		m.Count, errs[2] = strconv.ParseInt(f[2], 10, 64)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("%s: line %q: %w", path, l, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// SubIDs returns the user's first range in file (/etc/subuid or
// /etc/subgid), matched by name or by numeric id, or ok false.
func SubIDs(file, name string, id int) (r Range, ok bool, err error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return Range{}, false, nil
	}
	if err != nil {
		return Range{}, false, err
	}
	defer f.Close()
	return parseSubIDs(bufio.NewScanner(f), name, id)
}

func parseSubIDs(s *bufio.Scanner, name string, id int) (Range, bool, error) {
	for s.Scan() {
		l := strings.TrimSpace(s.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ":")
		if len(f) != 3 || (f[0] != name && f[0] != strconv.Itoa(id)) {
			continue
		}
		start, err1 := strconv.ParseInt(f[1], 10, 64)
		count, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || count <= 0 || start < 0 {
			continue
		}
		return Range{start, count}, true, nil
	}
	return Range{}, false, s.Err()
}

// Plan is the mapping Enter sets up for the current user.
type Plan struct {
	User     string // login name ("" if unknown)
	UID, GID int
	SubUID   Range // zero without a range
	SubGID   Range
	Single   bool   // no usable range (or no newuidmap): 0 → the user only
	Why      string // when Single: what is missing
}

// UsermodHint is the one command that gives user a subordinate id range.
func UsermodHint(name string) string {
	if name == "" {
		name = "$USER"
	}
	return "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 " + name
}

// NewPlan reads the user's ranges and looks for newuidmap and newgidmap.
func NewPlan() (*Plan, error) {
	p := &Plan{UID: os.Getuid(), GID: os.Getgid()}
	if u, err := user.LookupId(strconv.Itoa(p.UID)); err == nil {
		p.User = u.Username
	}
	var okU, okG bool
	var err error
	if p.SubUID, okU, err = SubIDs("/etc/subuid", p.User, p.UID); err != nil {
		return nil, fmt.Errorf("rootless: %w", err)
	}
	if p.SubGID, okG, err = SubIDs("/etc/subgid", p.User, p.UID); err != nil {
		return nil, fmt.Errorf("rootless: %w", err)
	}
	switch {
	case !okU || !okG:
		p.Single = true
		p.Why = fmt.Sprintf("no subordinate id range for user %s in /etc/subuid and /etc/subgid (add one: %s)", nameOr(p.User, p.UID), UsermodHint(p.User))
	default:
		for _, tool := range []string{"newuidmap", "newgidmap"} {
			if _, err := exec.LookPath(tool); err != nil {
				p.Single = true
				p.Why = fmt.Sprintf("%s is not installed (apt-get install uidmap), so the subordinate id range of %s cannot be used", tool, nameOr(p.User, p.UID))
			}
		}
	}
	if p.Single {
		p.SubUID, p.SubGID = Range{}, Range{}
	}
	return p, nil
}

func nameOr(name string, id int) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(id)
}

// Enter re-executes strata in a new user and mount namespace and exits with
// its status; it returns only an error (before anything was created when
// Check refuses). It must run before anything else of the command.
func Enter() error {
	if err := Check(hostSysctl); err != nil {
		return err
	}
	p, err := NewPlan()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("rootless: cannot re-execute strata: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("rootless: %w", err)
	}
	env := append(withoutStage(os.Environ()), stageEnv+"="+stageWait)
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	// Signals sent to this process go to strata inside; the terminal's
	// own (^C) reach both, as they are one process group.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return startError(err)
	}
	r.Close()
	if err := writeMaps(cmd.Process.Pid, p); err != nil {
		w.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	_, _ = w.Write([]byte{1})
	w.Close()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGINT && fromTerminal() {
					continue // the terminal sent it to strata inside too
				}
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	signal.Stop(sigs)
	if err == nil {
		os.Exit(0)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	return fmt.Errorf("rootless: %w", err)
}

// fromTerminal reports whether stdin is a terminal whose foreground process
// group is ours: then a ^C reached strata inside directly.
func fromTerminal() bool {
	pg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pg == unix.Getpgrp()
}

func withoutStage(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if strings.HasPrefix(e, stageEnv+"=") {
			continue
		}
		out = append(out, e)
	}
	return out
}

// startError explains a refused clone(CLONE_NEWUSER) that Check did not
// foresee (a seccomp filter, a container without user namespaces).
func startError(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("rootless: cannot create a user namespace (%v): strata needs one to run without root; %s", err, remedies)
	}
	return fmt.Errorf("rootless: start strata in a user namespace: %w", err)
}

const remedies = "allow unprivileged user namespaces (sysctl -w user.max_user_namespaces=15000; on Debian kernel.unprivileged_userns_clone=1), or run strata as root"

// writeMaps writes the child's uid and gid maps: newuidmap/newgidmap with
// the range, else the single line a user may write for itself.
func writeMaps(pid int, p *Plan) error {
	ps := strconv.Itoa(pid)
	if !p.Single {
		for _, m := range []struct {
			tool string
			id   int
			r    Range
		}{{"newuidmap", p.UID, p.SubUID}, {"newgidmap", p.GID, p.SubGID}} {
			args := []string{ps, "0", strconv.Itoa(m.id), "1", "1", strconv.FormatInt(m.r.Start, 10), strconv.FormatInt(m.r.Count, 10)}
			if out, err := exec.Command(m.tool, args...).CombinedOutput(); err != nil {
				return fmt.Errorf("rootless: %s %s: %v: %s (is the range in /etc/subuid and /etc/subgid right, and %s setuid root?)", m.tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)), m.tool)
			}
		}
		return nil
	}
	if err := os.WriteFile("/proc/"+ps+"/uid_map", []byte("0 "+strconv.Itoa(p.UID)+" 1\n"), 0); err != nil {
		return fmt.Errorf("rootless: write uid_map: %w", err)
	}
	if err := os.WriteFile("/proc/"+ps+"/setgroups", []byte("deny"), 0); err != nil {
		return fmt.Errorf("rootless: write setgroups: %w", err)
	}
	if err := os.WriteFile("/proc/"+ps+"/gid_map", []byte("0 "+strconv.Itoa(p.GID)+" 1\n"), 0); err != nil {
		return fmt.Errorf("rootless: write gid_map: %w", err)
	}
	return nil
}

// Stage runs first in main. In the first exec inside the new namespace it
// waits for the parent to write the maps, then executes strata again, as
// root of the namespace (an exec by an unmapped uid gave it no
// capabilities). Elsewhere it returns at once.
func Stage() {
	if os.Getenv(stageEnv) != stageWait {
		return
	}
	f := os.NewFile(3, "userns-sync")
	var b [1]byte
	n, _ := f.Read(b[:])
	f.Close()
	if n != 1 {
		os.Exit(1) // the parent failed and said why
	}
	env := append(withoutStage(os.Environ()), stageEnv+"="+stageInside)
	err := syscall.Exec("/proc/self/exe", os.Args, env)
	fmt.Fprintf(os.Stderr, "strata: rootless: re-execute in the user namespace: %v\n", err)
	os.Exit(1)
}

var inUserNS = sync.OnceValue(func() bool { return !initialUserNS() })

// InUserNS reports whether this process runs in a user namespace other than
// the host's (strata's own, or any other): trusted.* xattrs are then out of
// reach, so overlay keeps its markers in user.overlay.* (mount option
// userxattr), and only the mapped ids can own files.
func InUserNS() bool { return inUserNS() }

// OverlayOpaqueXattr is the xattr that marks an opaque directory for the
// overlay mounts of this process: trusted.overlay.opaque, or
// user.overlay.opaque in a user namespace.
func OverlayOpaqueXattr() string {
	if InUserNS() {
		return "user.overlay.opaque"
	}
	return "trusted.overlay.opaque"
}

// OwnerError explains a chown to uid:gid that failed: in a user namespace
// EINVAL means the id is not mapped, which for strata's own namespace
// without a subordinate range is every id but 0. Other errors are returned
// as they are.
func OwnerError(err error, uid, gid int) error {
	if err == nil || !errors.Is(err, unix.EINVAL) || !InUserNS() {
		return err
	}
	ids := fmt.Sprintf("uid %d or gid %d", uid, gid)
	switch {
	case gid < 0:
		ids = fmt.Sprintf("uid %d", uid)
	case uid < 0:
		ids = fmt.Sprintf("gid %d", gid)
	}
	return fmt.Errorf("%w: %s is not mapped in strata's user namespace; %s", err, ids, UnmappedHint())
}

// UnmappedHint says which ids exist in strata's user namespace and how to
// get more: the usermod command, or the uidmap package.
func UnmappedHint() string {
	// The user's name from the host's /etc/passwd: only strata itself
	// (not a container's init, whose /etc is the image's) reads it.
	name := "$(id -un)"
	if os.Getenv(stageEnv) == stageInside {
		if u, err := user.LookupId(strconv.Itoa(outerUID())); err == nil {
			name = u.Username
		}
		if _, ok, _ := SubIDs("/etc/subuid", name, outerUID()); ok && SingleMapping() {
			if _, err := exec.LookPath("newuidmap"); err != nil {
				return "the user has a subordinate id range, but newuidmap and newgidmap are not installed (apt-get install uidmap), so strata could map uid and gid 0 (the user) only; install them and run strata again"
			}
		}
	}
	if SingleMapping() {
		return "strata runs without root and the user has no subordinate id range, so only uid and gid 0 (the user) exist; add a range with: " + UsermodHint(name) + " (then run strata again)"
	}
	return "only the ids of the user's subordinate range (/etc/subuid, /etc/subgid) exist; a larger range: " + UsermodHint(name)
}

// RunHint explains a failed RUN whose last lines say "Invalid argument" in a
// namespace without a subordinate range (chown 1000, su app): "" elsewhere.
func RunHint(last []string) string {
	if !SingleMapping() {
		return ""
	}
	for _, l := range last {
		if strings.Contains(strings.ToLower(l), "invalid argument") {
			return UnmappedHint()
		}
	}
	return ""
}

// outerUID is the host uid this process's uid 0 maps to (the user).
func outerUID() int {
	m, err := ReadMap("/proc/self/uid_map")
	if err == nil {
		for _, l := range m {
			if l.Inside == 0 {
				return int(l.Outside)
			}
		}
	}
	return os.Getuid()
}
