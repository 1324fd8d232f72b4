package sandbox

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-build/strata/internal/passwd"
)

// execUser is a resolved Spec.User.
type execUser struct {
	UID, GID int
	Groups   []int // supplementary groups
	Home     string
}

// parsePasswd and parseGroup are the parsers the builder uses too.
var (
	parsePasswd = passwd.ParsePasswd
	parseGroup  = passwd.ParseGroup
)

// readEntries reads a passwd or group file; a missing file is empty, like Docker.
func readEntries[T any](path string, parse func(io.Reader) []T) ([]T, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	return parse(f), nil
}

// resolveUser resolves a Docker USER string against passwd and group entries,
// following moby/sys/user.GetExecUser: a numeric user or group that is not in
// the files is used as is; a name that is not found is an error; supplementary
// groups come from the group file when no group was given explicitly. The
// primary group is always among the supplementary groups too, as Docker
// (daemon getUser) and BuildKit (ensureAdditionalGids) set them since
// CVE-2023-25173: a file whose group has fewer rights than others stays
// closed to the user.
func resolveUser(spec string, users []passwd.Entry, groups []passwd.Group) (execUser, error) {
	u, err := resolveIDs(spec, users, groups)
	if err == nil && !slices.Contains(u.Groups, u.GID) {
		u.Groups = append([]int{u.GID}, u.Groups...)
	}
	return u, err
}

// maxID is the largest uid or gid Docker accepts (runc: int32).
const maxID = 1<<31 - 1

func resolveIDs(spec string, users []passwd.Entry, groups []passwd.Group) (execUser, error) {
	u := execUser{UID: 0, GID: 0, Home: "/"}
	userSpec, groupSpec, hasGroup := strings.Cut(spec, ":")
	if userSpec == "" {
		userSpec = "0"
		if spec == "" {
			hasGroup = false
		}
	}
	var entry *passwd.Entry
	uid, numErr := strconv.Atoi(userSpec)
	for i := range users {
		p := &users[i]
		if (numErr == nil && p.UID == uid) || (numErr != nil && p.Name == userSpec) {
			entry = p
			break
		}
	}
	switch {
	case entry != nil:
		u.UID, u.GID = entry.UID, entry.GID
		if entry.Home != "" {
			u.Home = entry.Home
		}
	case numErr == nil:
		if uid < 0 || uid > maxID {
			return u, fmt.Errorf("invalid user %q: a uid is 0 to %d", spec, maxID)
		}
		u.UID = uid
	default:
		return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userSpec)
	}

	if hasGroup && groupSpec != "" {
		gid, numErr := strconv.Atoi(groupSpec)
		found := false
		for _, g := range groups {
			if (numErr == nil && g.GID == gid) || (numErr != nil && g.Name == groupSpec) {
				u.GID, found = g.GID, true
				break
			}
		}
		if !found {
			if numErr != nil {
				return u, fmt.Errorf("unable to find group %s: no matching entries in group file", groupSpec)
			}
			if gid < 0 || gid > maxID {
				return u, fmt.Errorf("invalid group %q: a gid is 0 to %d", groupSpec, maxID)
			}
			u.GID = gid
		}
		return u, nil
	}
	if entry != nil {
		seen := map[int]bool{}
		for _, g := range groups {
			for _, m := range g.Members {
				if m == entry.Name && !seen[g.GID] {
					seen[g.GID] = true
					u.Groups = append(u.Groups, g.GID)
				}
			}
		}
	}
	return u, nil
}
