// Package sandbox runs one command in a temporary Linux container that it sets
// up itself: no runc, no daemon.
//
// Run re-executes the current binary (/proc/self/exe) as the container init in
// new mount, PID, UTS, IPC (and, unless the host's network is asked for,
// network) namespaces. The init reads its configuration as JSON from an
// inherited pipe, mounts an overlay root filesystem, /proc, /dev, /sys and
// the requested mounts, pivots into the new root, drops privileges (user,
// groups, capabilities, rlimits, seccomp) and execs the command. Setup errors
// travel back to the parent over a close-on-exec pipe, so a failed mount is a
// real error naming the operation, source, target and flags.
//
// Every program that calls Run must call Init first thing in main (and tests
// in TestMain), because the re-executed binary has to recognise itself.
//
// The package knows nothing about Dockerfiles or images: it gets directories,
// an argv and an environment.
//
// What a container gets: new mount, PID, UTS and IPC namespaces; a new network
// namespace with outbound access through slirp4netns (default), the host's
// network, or a new one with only lo up; an overlay root (mounts made private
// first, pivot_root, old root detached); fresh /proc with Docker's masked and
// read-only paths; /dev as tmpfs with null, zero, full, random, urandom, tty,
// devpts (newinstance) with /dev/ptmx, /dev/shm, /dev/mqueue and the fd
// symlinks; read-only /sys; /etc/hosts, /etc/hostname and /etc/resolv.conf
// bound from per-run files; Docker's default capabilities (all others dropped
// from every set; no_new_privs off, as in Docker, so setuid programs work), the
// primary group among the supplementary groups (as Docker and BuildKit do since
// CVE-2023-25173), RLIMIT_NOFILE 1048576; a cgroup (v1 or v2) below the
// caller's own, with pids and memory limits and Docker's device allow-list
// (any node may be created, only null, zero, full, random, urandom, tty,
// console, ptmx and pts opened: devices_linux.go).
//
// With Spec.Tty the init opens the pseudo-terminal itself, in the container's
// devpts, like runc's console socket: the slave (/dev/pts/N in the container,
// owned by the user, group 5 "tty", also bound on /dev/console) is the
// command's stdin, stdout, stderr and controlling terminal, and the master is
// passed to Run over a socketpair, which copies it to and from the caller and
// forwards the caller's terminal size and its changes (SIGWINCH). Without it
// the command's stdio is /dev/null or pipes of the run (never the caller's
// files), given to the command's user like runc does, so that a user other
// than root can write /dev/stderr (stdio_linux.go).
//
// The command also runs under Docker's default seccomp profile (see
// seccomp_linux.go: an allowlist, EPERM for the rest, clone with namespace
// flags refused, clone3 ENOSYS) on linux/amd64 and linux/arm64, unless
// Spec.SeccompUnconfined.
//
// Not done (yet):
//   - seccomp on other architectures, and for i386/x32 programs on amd64
//     (they are killed at their first syscall, where Docker allows them).
//   - rootless: Run needs to be root of its user namespace: a normal user's
//     strata re-executes itself in one first (internal/rootless); there
//     overlay uses userxattr, limits need a delegated cgroup v2 subtree, and
//     the device rules need no cgroup (no device node can be made there).
//   - /sys/fs/cgroup is not mounted in the container; no AppArmor/SELinux.
//   - overlay layer paths must not contain ',' or ':'.
package sandbox

import (
	"fmt"
	"io"
)

// Mount is an extra mount in the container.
type Mount struct {
	Type string // "bind", "tmpfs" or "overlay"
	// Source is the host path for bind. For overlay it is the path inside
	// the overlay to mount (default "/"), resolved with the overlay as the
	// root: neither ".." nor a symlink can lead out of it.
	Source   string
	Target   string   // absolute path inside the container
	ReadOnly bool     // read-only (recursively for binds)
	Options  []string // mount flags ("nosuid", "nodev", "noexec", "exec", ...) and data ("size=64m", "mode=1777")
	// Lower (overlay only) are the directories the overlay stacks, top
	// first, like Spec.Lower; they are never written. Empty is an empty
	// directory. Without ReadOnly the mount is writable, but what is written
	// goes to a scratch dir of the run and is gone after it (BuildKit's rw
	// bind mounts). Paths must not contain ',' or ':'.
	Lower []string
}

// Spec describes one container run.
type Spec struct {
	// Root filesystem: overlayfs of Lower (read-only dirs, top first, like
	// overlay's lowerdir=) with the fresh Upper and Work dirs (the caller
	// creates them empty, on the same filesystem). Lower may be empty
	// (scratch). After Run, Upper holds exactly what the command changed:
	// mount points the sandbox had to create are removed again.
	Lower       []string
	Upper, Work string

	Args []string // argv; Args[0] is looked up in the container's PATH when it has no slash
	// Env is KEY=VALUE; PATH defaults to DefaultPath, HOME to the user's
	// home, HOSTNAME (not with BuildEtc) to the hostname, as in docker run.
	Env []string
	Dir string // working directory (default "/"); created (0755, owned by the user) if missing
	// User is "", "name", "uid", "name:group" or "uid:gid", resolved from the
	// container's /etc/passwd and /etc/group like Docker does.
	User     string
	Hostname string // default: the first 12 characters of ID
	// Network is "default" (also ""): a new network namespace with lo and
	// tap0, whose outbound traffic slirp4netns carries (the host's loopback
	// stays out of reach; /etc/resolv.conf names slirp's DNS, 10.0.2.3);
	// "host": the host's network namespace; "none": a new network
	// namespace with only lo up. See the Network* constants.
	Network string
	Mounts  []Mount

	Memory    int64 // memory limit in bytes, 0 = unlimited
	PidsLimit int64 // maximum number of processes, 0 = unlimited

	Tty bool // run the command on a new pseudo-terminal; Stdin is its input
	// Stdin is nil (/dev/null) or copied to the command through a pipe of
	// the run, for an *os.File too (see Run on stdio).
	Stdin io.Reader
	// Prefill (Tty only) is typed into the terminal after the command's
	// first output, as if the user had typed it: a debug shell shows the
	// failed command at its prompt, ready to run or edit.
	Prefill string

	// BuildEtc gives the command the /etc files of a BuildKit RUN step
	// instead of docker run's: /etc/hosts ("127.0.0.1 localhost HOSTNAME"
	// and the ::1 line) and /etc/resolv.conf bound read-only, so writing to
	// them fails as in docker build, and no /etc/hostname bind: the image's
	// own file shows, and what the command writes there stays in Upper.
	BuildEtc bool

	// SeccompUnconfined runs the command without the seccomp filter
	// (docker run --security-opt seccomp=unconfined).
	SeccompUnconfined bool

	ID string // container id (hex); generated when empty

	// Trace, when not nil, is filled with every process the command
	// started (proctrace.go).
	Trace *Trace

	// TmpDir is where the run's scratch directory (overlay mount point,
	// hosts/resolv.conf/hostname files) is created and removed again.
	// Default os.TempDir(). Sweep(TmpDir) removes what a crashed process left.
	TmpDir string
}

// Network modes (Spec.Network).
const (
	// NetworkDefault is a private network namespace with a fresh loopback
	// and outbound access through slirp4netns, like a docker build step's
	// or a docker run container's own namespace. "" means this too.
	NetworkDefault = "default"
	// NetworkHost is the host's network namespace (docker --network host).
	NetworkHost = "host"
	// NetworkNone is a private network namespace with only lo up.
	NetworkNone = "none"
)

// DefaultPath is the PATH a container gets when Spec.Env has none (Docker's).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ExecError is returned by Run when the container was set up but its command
// could not be started, like Docker's `exec: "foo": executable file not found
// in $PATH`. Run returns it together with the exit code a shell would give:
// 127 (not found) or 126 (found but not executable).
type ExecError struct {
	Command string
	Code    int
	Err     string
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("exec: %q: %s", e.Command, e.Err)
}

// ExitCode returns the exit code that goes with the error (126 or 127).
func (e *ExecError) ExitCode() int { return e.Code }
