package build

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/strata-build/strata/layers"
)

// User is a resolved USER / --chown value.
type User struct {
	UID, GID int
	Groups   []int // supplementary groups (USER only)
	Home     string
}

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

func readPasswd(v *layers.View) []passwdEntry {
	b, err := v.ReadFile("/etc/passwd", 8<<20)
	if err != nil {
		return nil
	}
	var out []passwdEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	}
	return out
}

func readGroup(v *layers.View) []groupEntry {
	b, err := v.ReadFile("/etc/group", 8<<20)
	if err != nil {
		return nil
	}
	var out []groupEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	}
	return out
}

// lookupUser resolves "user[:group]" (names or numbers) against the
// image's /etc/passwd and /etc/group, as Docker does for USER.
func lookupUser(v *layers.View, spec string) (User, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	var u User
	passwd := readPasswd(v)
	var name string
	if n, err := strconv.Atoi(userPart); err == nil {
		u.UID, u.GID = n, n
		found := false
		for _, p := range passwd {
			if p.uid == n {
				u.GID, u.Home, name, found = p.gid, p.home, p.name, true
				break
			}
		}
		if !found {
			u.GID = 0
		}
	} else {
		found := false
		for _, p := range passwd {
			if p.name == userPart {
				u.UID, u.GID, u.Home, name, found = p.uid, p.gid, p.home, p.name, true
				break
			}
		}
		if !found {
			return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
	}
	groups := readGroup(v)
	if hasGroup {
		if n, err := strconv.Atoi(groupPart); err == nil {
			u.GID = n
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return u, fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	}
	if name != "" {
		for _, g := range groups {
			for _, m := range g.members {
				if m == name && g.gid != u.GID {
					u.Groups = append(u.Groups, g.gid)
				}
			}
		}
	}
	return u, nil
}

// lookupChown resolves --chown=user[:group]. Docker's documented rule: a
// user without a group uses the same number as the GID; names are looked
// up in the image's passwd and group files.
func lookupChown(v *layers.View, spec string) (int, int, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	uid, err := strconv.Atoi(userPart)
	if err != nil {
		found := false
		for _, p := range readPasswd(v) {
			if p.name == userPart {
				uid, found = p.uid, true
				break
			}
		}
		if !found {
			return 0, 0, fmt.Errorf("--chown=%s: unable to find user %s in the image's /etc/passwd (use a numeric uid or add the user first)", spec, userPart)
		}
	}
	gid := uid
	if hasGroup {
		if n, err := strconv.Atoi(groupPart); err == nil {
			gid = n
		} else {
			found := false
			for _, g := range readGroup(v) {
				if g.name == groupPart {
					gid, found = g.gid, true
					break
				}
			}
			if !found {
				return 0, 0, fmt.Errorf("--chown=%s: unable to find group %s in the image's /etc/group (use a numeric gid or add the group first)", spec, groupPart)
			}
		}
	}
	return uid, gid, nil
}

func chownByName(spec string) bool {
	u, g, _ := strings.Cut(spec, ":")
	_, e1 := strconv.Atoi(u)
	_, e2 := strconv.Atoi(g)
	return e1 != nil || (g != "" && e2 != nil)
}
