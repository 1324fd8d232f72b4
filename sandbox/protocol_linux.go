package sandbox

// initArg is argv[0] of the re-executed binary: Init recognises itself by it.
const initArg = "strata-sandbox-init"

// The init inherits the config pipe as fd 3, the message pipe as fd 4 and,
// with Tty, its end of the console socket as fd 5: the init sends the pty
// master it opened in the container's devpts over it (SCM_RIGHTS), before
// its Ready message.
const (
	configFD  = 3
	messageFD = 4
	consoleFD = 5
)

// initConfig is what Run sends to the init, as JSON over the config pipe.
type initConfig struct {
	Rootfs   string   // host directory the overlay is mounted on
	Lower    []string // top first
	Upper    string
	Work     string
	Args     []string
	Env      []string
	Dir      string
	User     string
	Hostname string
	NetNone  bool
	// NetSlirp: a new network namespace that slirp4netns connects (the
	// default network); lo is brought up as for NetNone.
	NetSlirp bool
	Mounts   []initMount
	EtcFiles []etcFile // /etc/hosts, /etc/hostname, /etc/resolv.conf
	BuildEtc bool      // Spec.BuildEtc
	Tty      bool
	// NoSeccomp: no seccomp filter (Spec.SeccompUnconfined).
	NoSeccomp bool
	// Copy: the copying snapshotter (copysnap_linux.go): Upper is the
	// copied root, bound on Rootfs instead of an overlay; overlay mounts'
	// mnt dirs hold copies too.
	Copy bool `json:",omitempty"`
	// Mounted: Rootfs is already mounted by Run (fuse-overlayfs,
	// fuseoverlay_linux.go), its copy in the init's mount namespace is used.
	Mounted bool `json:",omitempty"`
}

// initMount is a Mount with what the parent prepared for it.
type initMount struct {
	Mount
	// Scratch (overlay only) is a host dir of the run holding mnt (where
	// the overlay is mounted before its Source is bound), upper and work,
	// and lower (empty, used when Lower is).
	Scratch string `json:",omitempty"`
	// Copied: mnt already holds the merged view: a copy of Lower (the
	// copying snapshotter) or a fuse-overlayfs mount Run made.
	Copied bool `json:",omitempty"`
}

type etcFile struct {
	Target   string // path in the container
	Source   string // host file
	ReadOnly bool   `json:",omitempty"`
}

// initMsg is what the init sends back over the message pipe, as a stream of
// JSON values. The pipe is close-on-exec: EOF after Ready and without an
// Error or Exec message means the command was started; EOF without Ready
// means the init died.
type initMsg struct {
	Error string     `json:",omitempty"` // setup failed
	Exec  *ExecError `json:",omitempty"` // the command could not be executed
	Stubs *stubs     `json:",omitempty"` // mount points created in the rootfs
	Ready bool       `json:",omitempty"` // sent right before execve
}

// stubs records what the sandbox itself changed in the upper directory, so
// the parent can undo it after the run.
type stubs struct {
	Created []stubEntry // files and dirs created as mount points, in creation order
	Touched []dirEntry  // directories whose entries changed because of them
}

type stubEntry struct {
	Path string // container path (symlinks resolved)
	Dir  bool
}

type dirEntry struct {
	Path     string // container path (symlinks resolved)
	CopiedUp bool   // existed only in a lower dir before: copied up by the stub
	Mode     uint32
	UID, GID uint32
	Atime    int64 // ns, before the stubs were created
	Mtime    int64
	After    int64 // mtime in Upper once all stubs were created
}
