package rootless

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeSysctl(vals map[string]string) Sysctl {
	return func(name string) (string, error) {
		v, ok := vals[name]
		if !ok {
			return "", os.ErrNotExist
		}
		return v, nil
	}
}

// TestCheckRefusals: each way a kernel disables user namespaces for normal
// users gives its own message, naming the setting and what to do.
func TestCheckRefusals(t *testing.T) {
	defer func(f func() string) { apparmorLabel = f }(apparmorLabel)
	for _, c := range []struct {
		vals map[string]string
		want []string // nil: allowed
	}{
		{map[string]string{"user.max_user_namespaces": "15000"}, nil},
		{map[string]string{}, nil},
		{map[string]string{"user.max_user_namespaces": "0"}, []string{"user.max_user_namespaces=0", "sysctl -w user.max_user_namespaces=", "as root"}},
		{map[string]string{"user.max_user_namespaces": "100", "kernel.unprivileged_userns_clone": "0"}, []string{"kernel.unprivileged_userns_clone=0", "sysctl -w kernel.unprivileged_userns_clone=1"}},
		{map[string]string{"kernel.unprivileged_userns_clone": "1"}, nil},
		{map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"}, []string{"AppArmor", "kernel.apparmor_restrict_unprivileged_userns=1", "userns,", "/etc/apparmor.d"}},
		{map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "0"}, nil},
	} {
		apparmorLabel = func() string { return "unconfined" }
		err := Check(fakeSysctl(c.vals))
		if c.want == nil {
			if err != nil {
				t.Errorf("%v: %v, want nil", c.vals, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v: no error, want one naming %q", c.vals, c.want)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q does not say %q", c.vals, err, w)
			}
		}
	}
}

// TestCheckAppArmorProfile: under a profile of its own (which allows userns,
// as rootlesskit's does) strata is not refused for the AppArmor sysctl.
func TestCheckAppArmorProfile(t *testing.T) {
	defer func(f func() string) { apparmorLabel = f }(apparmorLabel)
	apparmorLabel = func() string { return "strata (unconfined)" }
	if err := Check(fakeSysctl(map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"})); err != nil {
		t.Errorf("under a profile: %v", err)
	}
}

func TestParseSubIDs(t *testing.T) {
	const file = "# comment\nalice:100000:65536\n\nbob:bad:1\n1002:300000:1000\nbob:200000:0\nbob:165536:65536\n"
	for _, c := range []struct {
		name string
		id   int
		want Range
		ok   bool
	}{
		{"alice", 1001, Range{100000, 65536}, true},
		{"bob", 1003, Range{165536, 65536}, true},  // bad and empty lines skipped
		{"carol", 1002, Range{300000, 1000}, true}, // by numeric id
		{"dave", 1004, Range{}, false},
	} {
		got, ok, err := parseSubIDs(bufio.NewScanner(strings.NewReader(file)), c.name, c.id)
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("%s: %v %v %v, want %v %v", c.name, got, ok, err, c.want, c.ok)
		}
	}
	if _, ok, err := SubIDs(filepath.Join(t.TempDir(), "none"), "alice", 1); ok || err != nil {
		t.Errorf("missing file: %v %v, want no range and no error", ok, err)
	}
}

func TestReadMap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "uid_map")
	if err := os.WriteFile(p, []byte("         0       1001          1\n         1     100000      65536\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMap(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []IDMap{{0, 1001, 1}, {1, 100000, 65536}}
	if len(m) != 2 || m[0] != want[0] || m[1] != want[1] {
		t.Errorf("ReadMap = %v, want %v", m, want)
	}
	if err := os.WriteFile(p, []byte("0 x 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMap(p); err == nil {
		t.Error("a bad line: no error")
	}
}

// TestOwnerErrorPassesOthers: only EINVAL in a user namespace is explained;
// other errors come back as they are.
func TestOwnerErrorPassesOthers(t *testing.T) {
	e := errors.New("boom")
	if got := OwnerError(e, 1, 1); got != e {
		t.Errorf("OwnerError(%v) = %v", e, got)
	}
	if OwnerError(nil, 1, 1) != nil {
		t.Error("OwnerError(nil) != nil")
	}
}
