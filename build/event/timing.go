package event

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Phase is one part of a step's time, as offsets from the step's start
// (StepDone.Time - Duration). Phases may overlap: then they ran at once.
//
// Names: "cache" (the cache key: the context checksum for COPY/ADD, and
// the lookup), "pull" (FROM), "prepare" (scratch dirs, RUN mounts, the
// log), "setup" (the container: namespaces, overlay, mounts, user, up to
// the exec of the command), "command" (the command, from its exec to its
// exit), "teardown" (after the exit: the network, the stubs), "copy"
// (COPY/ADD: the files), "snapshot" (the diff of the upper dir, written
// as the layer tar and hashed in one pass), "commit" (into the store).
type Phase struct {
	Name   string        `json:"name"`
	Start  time.Duration `json:"start_ns"`
	End    time.Duration `json:"end_ns"`
	Detail string        `json:"detail,omitempty"`
	Bytes  int64         `json:"bytes,omitempty"`
}

// Duration is End - Start.
func (p Phase) Duration() time.Duration { return p.End - p.Start }

// Process is one process a RUN started (or its command, PPID 0), times as
// offsets from the step's start.
type Process struct {
	PID  int      `json:"pid"`
	PPID int      `json:"ppid"`
	Argv []string `json:"argv"`
	// Forked: it never executed a program (a subshell): Argv is its
	// parent's.
	Forked bool `json:"forked,omitempty"`
	// Exec is when it executed Argv (absent for a subshell); Before is the
	// program it ran until then, when it executed more than one (a shell
	// that executes its last command itself).
	Exec   time.Duration `json:"exec_ns,omitempty"`
	Before []string      `json:"before_argv,omitempty"`
	Start  time.Duration `json:"start_ns"`
	End    time.Duration `json:"end_ns"`
	// Exit is the status a shell would report (128+N: killed by signal
	// N); -1 when its end was not seen.
	Exit       int           `json:"exit"`
	User       time.Duration `json:"user_ns"`
	System     time.Duration `json:"system_ns"`
	MaxRSS     int64         `json:"max_rss"`
	ReadBytes  int64         `json:"read_bytes"`
	WriteBytes int64         `json:"write_bytes"`
	ReadChars  int64         `json:"read_chars,omitempty"`
	WriteChars int64         `json:"write_chars,omitempty"`
}

// Duration is End - Start.
func (p Process) Duration() time.Duration { return p.End - p.Start }

// Name is the program's base name ("apt-get"), "(subshell)" when forked.
func (p Process) Name() string {
	if len(p.Argv) == 0 {
		return "?"
	}
	n := path.Base(p.Argv[0])
	if p.Forked {
		return n + " (subshell)"
	}
	return n
}

// Command is the argv as one line.
func (p Process) Command() string { return strings.Join(p.Argv, " ") }

// ProcNode is a node of a RUN's process tree: one process, or a group of
// short sibling processes of the same program (Count > 1; Process is the
// first, Start the first's start and End the last's end).
type ProcNode struct {
	Process
	// Execed marks the part of a process after it executed another
	// program (Process.Before): a child node of the part before.
	Execed bool
	Count  int // processes in the node
	// Busy is the sum of the grouped processes' own durations.
	Busy     time.Duration
	Failed   int // processes in the node with a non-zero exit
	Children []*ProcNode
}

// ShortProcess is how short a leaf process must be to be grouped with its
// siblings of the same program; ManySiblings of them are grouped however
// long each took (a loop's one slow cp stays in its group).
const (
	ShortProcess = 100 * time.Millisecond
	ManySiblings = 10
)

// ProcessTree builds the tree of procs (the first with PPID 0 is the
// root; nil when there is none): children in start order, and leaf
// children of one parent that run the same program, each shorter than
// ShortProcess or ManySiblings of them or more, grouped into one node with
// a count.
func ProcessTree(procs []Process) *ProcNode {
	nodes := map[int]*ProcNode{}
	var root *ProcNode
	order := make([]*ProcNode, 0, len(procs))
	for _, p := range procs {
		n := &ProcNode{Process: p, Count: 1, Busy: p.Duration()}
		if p.Exit != 0 && p.Exit != -1 {
			n.Failed = 1
		}
		nodes[p.PID] = n // a reused PID: the later process
		order = append(order, n)
		if p.PPID == 0 && root == nil {
			root = n
		}
	}
	if root == nil {
		return nil
	}
	// A process that executed a second program is two nodes: the first
	// program, and under it the second from its exec, which takes the
	// children started after it.
	after := map[*ProcNode]*ProcNode{}
	for _, n := range order {
		if n.Before == nil {
			continue
		}
		second := &ProcNode{Process: n.Process, Execed: true, Count: 1, Failed: n.Failed}
		second.Start, second.Before = n.Exec, nil
		second.Busy = second.Duration()
		n.Argv, n.Failed = n.Before, 0
		after[n] = second
	}
	for _, n := range order {
		if n == root {
			continue
		}
		parent := nodes[n.PPID]
		if parent == nil || parent == n {
			parent = root // its parent was not seen: under the command
		}
		if s := after[parent]; s != nil && n.Start >= s.Start {
			parent = s
		}
		parent.Children = append(parent.Children, n)
	}
	for n, s := range after {
		n.Children = append(n.Children, s)
		sort.SliceStable(n.Children, func(i, j int) bool { return n.Children[i].Start < n.Children[j].Start })
	}
	var group func(n *ProcNode)
	group = func(n *ProcNode) {
		var out []*ProcNode
		byName := map[string]*ProcNode{}
		leaf := func(c *ProcNode) bool {
			return len(c.Children) == 0 && !c.Forked && !c.Execed && c.Before == nil
		}
		many := map[string]int{}
		for _, c := range n.Children {
			if leaf(c) {
				many[c.Name()]++
			}
		}
		for _, c := range n.Children {
			group(c)
			if !leaf(c) || (c.Duration() >= ShortProcess && many[c.Name()] < ManySiblings) {
				out = append(out, c)
				continue
			}
			if g := byName[c.Name()]; g != nil {
				g.Count++
				g.Busy += c.Duration()
				g.Failed += c.Failed
				g.User += c.User
				g.System += c.System
				g.ReadBytes += c.ReadBytes
				g.WriteBytes += c.WriteBytes
				g.ReadChars += c.ReadChars
				g.WriteChars += c.WriteChars
				g.MaxRSS = max(g.MaxRSS, c.MaxRSS)
				g.End = max(g.End, c.End)
				continue
			}
			byName[c.Name()] = c
			out = append(out, c)
		}
		n.Children = out
	}
	group(root)
	return root
}

// Walk calls fn for n and every node below it, depth first, with depth.
func (n *ProcNode) Walk(fn func(n *ProcNode, depth int)) {
	var walk func(n *ProcNode, d int)
	walk = func(n *ProcNode, d int) {
		fn(n, d)
		for _, c := range n.Children {
			walk(c, d+1)
		}
	}
	if n != nil {
		walk(n, 0)
	}
}

// Label is the node's line: "cp ×10000" for a group, else the command.
func (n *ProcNode) Label() string {
	if n.Count > 1 {
		return fmt.Sprintf("%s ×%d", n.Name(), n.Count)
	}
	if n.Forked {
		return n.Name()
	}
	if n.Execed {
		return "exec " + n.Command()
	}
	return n.Command()
}

// TopProcesses are the n longest processes other than the command itself
// (the summary --report carries).
func TopProcesses(procs []Process, n int) []Process {
	var out []Process
	for _, p := range procs {
		if p.PPID != 0 {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Duration() > out[j].Duration() })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// StepTiming is what a step's findings are read from.
type StepTiming struct {
	Kind      StepKind
	Duration  time.Duration
	Phases    []Phase
	Processes []Process
	Files     int    // entries in the layer
	Reason    string // why it was rebuilt (cache miss)
	Text      string // the instruction
	// Cause is the earlier step of the stage that was rebuilt for a
	// changed file, when Reason is that an earlier step was rebuilt (see
	// RebuildCause): its instruction, line and reason.
	Cause       string
	CauseLine   int
	CauseReason string
}

// EarlierRebuilt is the reason of a step rebuilt only because one before
// it was (docs/cache.md).
const EarlierRebuilt = "an earlier step was rebuilt"

// RebuildCause finds, for step i of steps rebuilt because an earlier step
// was, the step of the same stage that started it: the last one before i
// that was rebuilt for another reason. reason(j) is step j's cache-miss
// reason ("" when it came from cache). ok is false when there is none.
func RebuildCause(steps []StepInfo, reason func(j int) string, i int) (cause int, ok bool) {
	if i < 0 || i >= len(steps) || reason(i) != EarlierRebuilt {
		return 0, false
	}
	for j := i - 1; j >= 0 && steps[j].Stage == steps[i].Stage; j-- {
		if r := reason(j); r != "" && r != EarlierRebuilt {
			return j, true
		}
	}
	return 0, false
}

// copiesContext is true for a COPY or ADD whose sources include the whole
// context ("." or "./").
func copiesContext(text string) bool {
	f := strings.Fields(text)
	if len(f) < 3 || (!strings.EqualFold(f[0], "COPY") && !strings.EqualFold(f[0], "ADD")) {
		return false
	}
	for _, a := range f[1 : len(f)-1] {
		if a == "." || a == "./" {
			return true
		}
	}
	return false
}

// Findings are facts read from a step's timing, most telling first, each a
// sentence: where the time went, how many processes, what the snapshot
// cost, and what the cache reason suggests.
func Findings(s StepTiming) []string {
	var out []string
	if s.Duration <= 0 {
		return nil
	}
	pct := func(d time.Duration) int { return int(100 * d / s.Duration) }
	phase := map[string]Phase{}
	for _, p := range s.Phases {
		phase[p.Name] = p
	}
	if tree := ProcessTree(s.Processes); tree != nil {
		// The longest child of the command (or its longest group).
		// Through the command's own execs (the shell form's /bin/sh -c
		// executing the RUN's one command).
		top := tree
		for len(top.Children) == 1 && top.Children[0].Execed {
			top = top.Children[0]
		}
		var best *ProcNode
		for _, c := range top.Children {
			if best == nil || c.Busy > best.Busy {
				best = c
			}
		}
		if best != nil && pct(best.Busy) >= 20 {
			f := fmt.Sprintf("%d%% of this step is `%s`", pct(best.Busy), best.Label())
			if io := best.ReadChars + best.WriteChars; io > 0 {
				f += fmt.Sprintf(" (%s read, %s written)", HumanSize(best.ReadChars), HumanSize(best.WriteChars))
			}
			out = append(out, f)
		}
		if n := len(s.Processes); n >= 100 {
			out = append(out, fmt.Sprintf("this step ran %s processes", Thousands(n)))
		}
		var failed int
		tree.Walk(func(n *ProcNode, _ int) {
			if n != tree {
				failed += n.Failed
			}
		})
		if failed > 0 {
			if failed == 1 {
				out = append(out, "1 process exited non-zero")
			} else {
				out = append(out, fmt.Sprintf("%s processes exited non-zero", Thousands(failed)))
			}
		}
	}
	if snap, cmd := phase["snapshot"], phase["command"]; cmd.Name != "" && snap.Duration() > cmd.Duration() && snap.Duration() > 100*time.Millisecond {
		out = append(out, fmt.Sprintf("writing the layer took longer than the command (%s against %s): %s files",
			snap.Duration().Round(time.Millisecond), cmd.Duration().Round(time.Millisecond), Thousands(s.Files)))
	}
	if c := phase["cache"]; c.Name != "" && pct(c.Duration()) >= 20 && c.Duration() > 200*time.Millisecond {
		f := fmt.Sprintf("computing the cache key took %s (%d%%)", c.Duration().Round(time.Millisecond), pct(c.Duration()))
		if c.Detail != "" {
			f += ": " + c.Detail
		}
		out = append(out, f)
	}
	if s.Reason == EarlierRebuilt && s.Cause != "" {
		f := fmt.Sprintf("rebuilt because `%s` (line %d) before it was: %s", s.Cause, s.CauseLine, s.CauseReason)
		if copiesContext(s.Cause) && s.Kind == "RUN" {
			f += "; it copies the whole context, so any change rebuilds this step: copy only what this step needs (a lock file) before it, and the rest after"
		}
		out = append(out, f)
	}
	return out
}

// PhaseSummary is the phases on one line: "cache 12ms, setup 80ms,
// command 2.1s (…)"; phases that overlap an earlier one say so.
func PhaseSummary(phases []Phase) string {
	var parts []string
	for i, p := range phases {
		s := p.Name + " " + RoundDuration(p.Duration())
		if p.Name == "pull" && p.Bytes > 0 && p.Duration() > 0 {
			s += fmt.Sprintf(" (%s at %s/s)", HumanSize(p.Bytes), HumanSize(int64(float64(p.Bytes)/p.Duration().Seconds())))
		}
		for _, q := range phases[:i] {
			if p.Start < q.End && q.Start < p.End && p.Duration() > 0 && q.Duration() > 0 {
				s += " (with " + q.Name + ")"
				break
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// RoundDuration writes d in about three figures: 2.13s, 81.2ms, 950µs.
func RoundDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// Thousands writes n with thousands separators: 10,412.
func Thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
