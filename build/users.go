package build

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-build/strata/internal/passwd"
	"github.com/strata-build/strata/layers"
)

// readPasswd and readGroup read the image's files; a file that is missing
// or unreadable is empty, as BuildKit's readUser treats it.
func readPasswd(v *layers.View) []passwd.Entry {
	b, err := v.ReadFile("/etc/passwd", 8<<20)
	if err != nil {
		return nil
	}
	return passwd.ParsePasswd(bytes.NewReader(b))
}

func readGroup(v *layers.View) []passwd.Group {
	b, err := v.ReadFile("/etc/group", 8<<20)
	if err != nil {
		return nil
	}
	return passwd.ParseGroup(bytes.NewReader(b))
}

// lookupChown resolves --chown=user[:group] (and the USER a WORKDIR
// creates its directories as) the way BuildKit does (llb.WithUser, then
// the solver's readUser): a number, or "root", is used as is and also
// becomes the gid; a name takes its uid and primary gid from the image's
// /etc/passwd; a group (number or /etc/group name) replaces the gid. Names
// that are not found resolve to 0 (a user) or leave the gid alone (a group),
// as BuildKit does; warn then says so, for the user to see.
func lookupChown(v *layers.View, spec string) (uid, gid int, warn string) {
	userPart, groupPart, _ := strings.Cut(spec, ":")
	var missing []string
	if n, ok := parseChownID(userPart); ok {
		uid, gid = n, n
	} else {
		p, found := passwd.UserByName(readPasswd(v), userPart)
		if found {
			uid, gid = p.UID, p.GID
		}
		if !found && userPart != "" {
			missing = append(missing, fmt.Sprintf("user %q is not in the image's /etc/passwd, so uid 0 is used", userPart))
		}
	}
	if groupPart != "" {
		if n, ok := parseChownID(groupPart); ok {
			gid = n
		} else {
			g, found := passwd.GroupByName(readGroup(v), groupPart)
			if found {
				gid = g.GID
			}
			if !found {
				missing = append(missing, fmt.Sprintf("group %q is not in the image's /etc/group, so gid %d is used", groupPart, gid))
			}
		}
	}
	if len(missing) > 0 {
		warn = fmt.Sprintf("%s (as Docker does); add it to the image first or use numbers", strings.Join(missing, ", and "))
	}
	return uid, gid, warn
}

// parseChownID is BuildKit's parseUID: "root" or a 32-bit number.
func parseChownID(s string) (int, bool) {
	if s == "root" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return int(n), true
}

// chownByName tells whether --chown names a user or group (BuildKit's
// chownByName): "root" and an empty user part are no names.
func chownByName(spec string) bool {
	u, g, _ := strings.Cut(spec, ":")
	_, uNum := parseChownID(u)
	_, gNum := parseChownID(g)
	return (u != "" && !uNum) || (g != "" && !gNum)
}
