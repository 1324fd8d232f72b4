// Package passwd parses /etc/passwd and /etc/group for the exec user and
// --chown lookups. Like Docker's user library (moby/sys/user, used by runc,
// the daemon and BuildKit) each line is trimmed and blank lines are skipped;
// lines starting with '#', lines with too few fields and lines whose uid or
// gid is not a number are skipped too, rather than failing the whole file. It imports nothing from strata,
// so the builder (USER, --chown) and the sandbox (the exec user) share it.
package passwd

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Entry is one line of /etc/passwd (name:password:uid:gid:gecos:home:shell).
type Entry struct {
	Name     string
	UID, GID int
	Home     string // empty when the line has no home field
}

// Group is one line of /etc/group (name:password:gid:member,member).
type Group struct {
	Name    string
	GID     int
	Members []string // blank members are dropped
}

// lines calls fn with the fields of each meaningful line of r.
func lines(r io.Reader, fn func(f []string)) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fn(strings.Split(line, ":"))
	}
}

// ParsePasswd returns the entries of a passwd file in file order.
func ParsePasswd(r io.Reader) []Entry {
	var out []Entry
	lines(r, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return
		}
		e := Entry{Name: f[0], UID: uid, GID: gid}
		if len(f) > 5 {
			e.Home = f[5]
		}
		out = append(out, e)
	})
	return out
}

// ParseGroup returns the entries of a group file in file order.
func ParseGroup(r io.Reader) []Group {
	var out []Group
	lines(r, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		g := Group{Name: f[0], GID: gid}
		if len(f) > 3 {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					g.Members = append(g.Members, m)
				}
			}
		}
		out = append(out, g)
	})
	return out
}

// UserByName returns the first entry named name.
func UserByName(entries []Entry, name string) (Entry, bool) {
	for _, e := range entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// GroupByName returns the first group named name.
func GroupByName(groups []Group, name string) (Group, bool) {
	for _, g := range groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}
