package sandbox

import "time"

// Trace asks Run to record every process the command starts. Run fills it
// in; the zero value is ready to use.
//
// The recording is done from outside the container, by the process that
// calls Run, from the kernel's own events: the proc connector's fork, exec
// and exit events (parentage, argv read from /proc at exec, times, exit
// status) and taskstats' per-task exit records (CPU time, peak memory,
// bytes read and written). Nothing runs inside the container and nothing
// is injected into the command: the command stays PID 1 of its namespace
// (as in BuildKit, `echo $$` prints 1), no ptrace, no seccomp notifier, no
// polling that would miss short processes. Both need CAP_NET_ADMIN in the
// initial user namespace (root); without it Err says why and Processes is
// empty, and the command runs just the same.
type Trace struct {
	// Processes in the order they started; the first is the command
	// itself (PPID 0).
	Processes []Process
	// Lost is set when the kernel dropped events (a socket buffer
	// overflowed): then processes may be missing.
	Lost bool
	// Err is why nothing was recorded (no permission, no kernel support).
	Err error
	// MemoryPeak is the most memory the container used at once (its
	// cgroup's peak, page cache included), bytes; 0 when the cgroup does
	// not tell.
	MemoryPeak int64
}

// Process is one process the command started (or the command itself).
type Process struct {
	PID  int // in the host's PID namespace
	PPID int // 0 for the command
	// Argv is the last program it executed; a process that never executed
	// one (a subshell) has its parent's, with Forked set. A process gone
	// before its exec event was read has only its name (comm, 15 bytes).
	Argv   []string
	Forked bool
	// Exec is when it executed Argv (zero for a subshell). Before is what
	// it ran until then when it executed more than one program (a shell
	// that executes its last command itself): the first one.
	Exec   time.Time
	Before []string
	Start  time.Time // fork (the command: its exec)
	End    time.Time // exit; zero if it was not seen
	// Exit is the status as a shell reports it: the exit code, or 128+N
	// when killed by signal N; -1 when the exit was not seen.
	Exit         int
	User, System time.Duration // CPU time of all its threads
	MaxRSS       int64         // peak resident set size, bytes
	// ReadBytes and WriteBytes are what it read from and wrote to storage
	// (the page cache counts as written); ReadChars and WriteChars are all
	// bytes through read and write calls (pipes, sockets and cache too).
	ReadBytes, WriteBytes int64
	ReadChars, WriteChars int64
}
