package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-build/strata/internal/bytesize"
	"github.com/strata-build/strata/internal/rootless"
	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/sandbox"
)

// infoReport is what strata info prints (--format json: this document).
type infoReport struct {
	Mode string `json:"mode"` // "root" or "rootless"
	// UserNamespaceError is why a rootless strata got no user namespace.
	UserNamespaceError string           `json:"userNamespaceError,omitempty"`
	User               string           `json:"user"`
	UIDMap             []rootless.IDMap `json:"uidMap"`
	GIDMap             []rootless.IDMap `json:"gidMap"`
	// Mapping says in words what the maps allow.
	Mapping    string              `json:"mapping"`
	Sandbox    sandbox.Environment `json:"sandbox"`
	StateDir   string              `json:"stateFolder"`
	StateBytes int64               `json:"stateFolderBytes"` // -1: not created yet
	Store      string              `json:"store,omitempty"`  // why the store could not be read
	// Emulators are the architectures whose RUN works here under QEMU
	// (cmd_platforms.go).
	Emulators string `json:"emulators"`
}

func newInfoCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show what strata found here: root or rootless, id mapping, snapshotter, cgroups, seccomp, state folder",
		Long: `info prints what strata found on this machine and will use: whether it
runs as root or rootless (a user namespace with the user's /etc/subuid and
/etc/subgid range), the uid and gid maps, the snapshotter (overlay, or
overlay+userxattr in a user namespace; where the kernel refuses that,
fuse-overlayfs if installed, else copy; STRATA_SNAPSHOTTER chooses) and
why not the ones before it, the cgroup version and whether
--memory and --pids-limit can be had, the seccomp profile, the default
network's helper, and the state folder with its size.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "json" {
				return fmt.Errorf("--format %q: want json (or leave it out for text)", format)
			}
			r := collectInfo(g)
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			r.print(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output format: json (default: text)")
	return cmd
}

func collectInfo(g *globals) *infoReport {
	r := &infoReport{Mode: "root", StateDir: g.root, StateBytes: -1}
	if rootless.Rootless() {
		r.Mode = "rootless"
	}
	if usernsError != nil {
		r.UserNamespaceError = usernsError.Error()
	}
	uid := os.Getuid()
	if m, err := rootless.ReadMap("/proc/self/uid_map"); err == nil {
		r.UIDMap = m
		for _, l := range m {
			if l.Inside == 0 && rootless.Inside() {
				uid = int(l.Outside)
			}
		}
	}
	r.GIDMap, _ = rootless.ReadMap("/proc/self/gid_map")
	r.User = strconv.Itoa(uid)
	if u, err := user.LookupId(r.User); err == nil {
		r.User = u.Username + " (uid " + r.User + ")"
	}
	switch {
	case !rootless.Rootless():
		r.Mapping = "none: the host's ids"
	case !rootless.Inside():
		r.Mapping = "none: no user namespace (" + r.UserNamespaceError + ")"
	case rootless.SingleMapping():
		r.Mapping = "single: images with owners other than root fail; " + rootless.UnmappedHint()
	default:
		r.Mapping = "0 → the user, 1.." + strconv.FormatInt(mapped(r.UIDMap)-1, 10) + " → its subordinate range: images keep their owners"
	}
	r.Sandbox = sandbox.Probe(os.TempDir())
	r.Emulators = emulatorsLine()
	if _, err := os.Stat(g.root); errors.Is(err, fs.ErrNotExist) {
		return r
	}
	store, err := layers.Open(g.root)
	if err != nil {
		r.Store = err.Error()
		return r
	}
	defer store.Close()
	r.StateBytes = store.Usage()
	return r
}

func mapped(m []rootless.IDMap) int64 {
	var n int64
	for _, l := range m {
		n += l.Count
	}
	return n
}

func (r *infoReport) print(w io.Writer) {
	p := func(k, v string) { fmt.Fprintf(w, "%-14s %s\n", k+":", v) }
	mode := r.Mode
	if r.Mode == "rootless" && r.UserNamespaceError == "" {
		mode += " (user namespace)"
	}
	p("mode", mode)
	if r.UserNamespaceError != "" {
		p("user namespace", r.UserNamespaceError)
	}
	p("user", r.User)
	p("uid map", mapString(r.UIDMap))
	p("gid map", mapString(r.GIDMap))
	p("mapping", r.Mapping)
	s := r.Sandbox.Snapshotter
	if r.Sandbox.SnapshotterError != "" {
		s += " (" + r.Sandbox.SnapshotterError + ")"
	}
	p("snapshotter", s)
	p("cgroup", r.Sandbox.Cgroup)
	limits := "no: " + r.Sandbox.LimitsWhy
	if r.Sandbox.Limits {
		limits = "yes: " + r.Sandbox.LimitsWhy
	}
	p("limits", limits)
	p("seccomp", r.Sandbox.Seccomp)
	p("network", r.Sandbox.Network)
	p("emulators", r.Emulators)
	p("state folder", r.StateDir)
	switch {
	case r.Store != "":
		p("state size", "unknown: "+r.Store)
	case r.StateBytes < 0:
		p("state size", "not created yet")
	default:
		p("state size", bytesize.Binary(r.StateBytes))
	}
}

func mapString(m []rootless.IDMap) string {
	var parts []string
	for _, l := range m {
		parts = append(parts, fmt.Sprintf("%d→%d ×%d", l.Inside, l.Outside, l.Count))
	}
	return strings.Join(parts, ", ")
}
