package snapshot

import (
	"fmt"
	"strconv"
	"strings"
)

// Typed is one command line typed in a debug shell, with its exit status
// when the shell's prompt hook recorded it.
type Typed struct {
	Line string
	// Status is the exit status; meaningful only when Known.
	Status int
	Known  bool
}

// readOnly are commands that only look: typed in a shell to find one's
// way, they change no file, so a RUN line has no use for them.
var readOnly = map[string]bool{
	"ls": true, "ll": true, "id": true, "clear": true, "reset": true, "cat": true, "pwd": true,
	"echo": true, "printf": true, "history": true, "whoami": true, "env": true, "printenv": true,
	"which": true, "type": true, "stat": true, "df": true, "du": true, "ps": true, "uname": true,
	"true": true, "head": true, "tail": true, "less": true, "more": true, "grep": true, "wc": true,
	"file": true, "help": true, "date": true, "groups": true, "free": true,
	"top": true, "tree": true, "readlink": true, "realpath": true, "dirname": true, "basename": true,
	"test": true, "[": true,
}

// BuildRunLine is the RUN instruction that redoes what was typed, and the
// reason each left-out command was left out (by index into cmds):
//   - a command whose exit status was not 0 (it failed: a RUN chaining it
//     with && would fail too);
//   - a command that only reads (ls, id, cat, pwd, echo or printf without
//     a redirection, clear, history…), alone or in a pipe of such;
//   - a cd that no kept command follows. A cd followed by a kept command
//     stays: that command may rely on the directory (and on a cd's
//     success, which && keeps).
//
// exit is never part of it. The line is "" when nothing is left.
func BuildRunLine(cmds []Typed) (string, map[int]string) {
	why := map[int]string{}
	var kept []int
	for i, c := range cmds {
		line := strings.TrimSpace(c.Line)
		switch {
		case line == "":
			why[i] = "empty"
		case line == "exit" || strings.HasPrefix(line, "exit "):
			why[i] = "exit"
		case c.Known && c.Status != 0:
			why[i] = "exit " + strconv.Itoa(c.Status) + ": it failed"
		case isReadOnly(line):
			why[i] = "it only reads, changes nothing"
		default:
			kept = append(kept, i)
		}
	}
	// Trailing cds (and a cd followed only by other cds) change nothing
	// that a kept command sees.
	for len(kept) > 0 && isCd(cmds[kept[len(kept)-1]].Line) {
		why[kept[len(kept)-1]] = "cd with no command after it"
		kept = kept[:len(kept)-1]
	}
	if len(kept) == 0 {
		return "", why
	}
	parts := make([]string, len(kept))
	for j, i := range kept {
		parts[j] = strings.TrimSpace(cmds[i].Line)
	}
	return "RUN " + strings.Join(parts, " && \\\n    "), why
}

func isCd(line string) bool {
	f := strings.Fields(line)
	return len(f) > 0 && f[0] == "cd" && !strings.ContainsAny(line, ";&|><`$(")
}

// isReadOnly: a simple command, or a pipe of them, each of a read-only
// program, with no redirection, substitution, or list (; && ||).
func isReadOnly(line string) bool {
	if strings.ContainsAny(line, ";&><`\n") || strings.Contains(line, "$(") {
		return false
	}
	for _, seg := range strings.Split(line, "|") {
		f := strings.Fields(seg)
		if len(f) == 0 || !readOnly[f[0]] {
			return false
		}
		if f[0] == "env" && len(f) > 1 {
			return false // env X=1 make runs make
		}
	}
	return true
}

// annotate is cmds as the shell's log shows them: a left-out command says
// why it is not in the RUN line.
func annotate(cmds []Typed, why map[int]string) []string {
	var out []string
	for i, c := range cmds {
		line := strings.TrimSpace(c.Line)
		if line == "" || line == "exit" || strings.HasPrefix(line, "exit ") {
			continue
		}
		if w, ok := why[i]; ok {
			line = fmt.Sprintf("%s    # left out of the RUN line: %s", line, w)
		}
		out = append(out, line)
	}
	return out
}

// parseStatusLog reads the prompt hook's log: one "STATUS\tN command" line
// per prompt, the status of history entry N (command). A prompt after an
// empty line repeats the entry; the first status for an entry is its own.
func parseStatusLog(b []byte) map[int]statusEntry {
	m := map[int]statusEntry{}
	for _, l := range strings.Split(string(b), "\n") {
		s, rest, ok := strings.Cut(l, "\t")
		if !ok {
			continue
		}
		st, err := strconv.Atoi(s)
		if err != nil {
			continue
		}
		n, cmd, ok := historyEntry(rest)
		if !ok {
			continue
		}
		if _, seen := m[n]; !seen {
			m[n] = statusEntry{status: st, line: strings.TrimSpace(cmd)}
		}
	}
	return m
}

type statusEntry struct {
	status int
	line   string
}

// historyEntry splits a line of the shell's "history" output
// ("   N command" in ash, "    N  command" in bash).
func historyEntry(l string) (int, string, bool) {
	l = strings.TrimLeft(l, " ")
	i := strings.IndexByte(l, ' ')
	if i <= 0 || !isDigits(l[:i]) {
		return 0, "", false
	}
	n, err := strconv.Atoi(l[:i])
	if err != nil {
		return 0, "", false
	}
	return n, l[i+1:], true
}
