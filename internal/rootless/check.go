package rootless

import (
	"fmt"
	"os"
	"strings"
)

// Sysctl reads a sysctl by its dotted name ("user.max_user_namespaces");
// an error means the kernel has no such setting.
type Sysctl func(name string) (string, error)

func hostSysctl(name string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	return strings.TrimSpace(string(b)), err
}

// apparmorLabel is this process's AppArmor label: "unconfined" unless a
// profile (one that allows userns, as rootlesskit documents) confines it.
var apparmorLabel = func() string {
	for _, f := range []string{"/proc/self/attr/apparmor/current", "/proc/self/attr/current"} {
		if b, err := os.ReadFile(f); err == nil {
			return strings.TrimSpace(strings.TrimRight(string(b), "\x00"))
		}
	}
	return "unconfined"
}

// Check says why a normal user cannot have a user namespace here, with what
// to do about it, or nil. It only reads sysctls (and the AppArmor label:
// under a profile of its own strata may create one): nothing is created.
func Check(read Sysctl) error {
	if v, err := read("user.max_user_namespaces"); err == nil && v == "0" {
		return fmt.Errorf("rootless: user namespaces are disabled (user.max_user_namespaces=0): strata needs one to run without root; enable them with: sudo sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d to keep it), or run strata as root")
	}
	if v, err := read("kernel.unprivileged_userns_clone"); err == nil && v == "0" {
		return fmt.Errorf("rootless: unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0): strata needs one to run without root; enable them with: sudo sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d to keep it), or run strata as root")
	}
	if v, err := read("kernel.apparmor_restrict_unprivileged_userns"); err == nil && v == "1" && apparmorLabel() == "unconfined" {
		return fmt.Errorf("rootless: AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10+): strata needs one to run without root; give strata an AppArmor profile that allows userns (as rootlesskit documents: a profile in /etc/apparmor.d with \"userns,\" for the strata binary), or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or run strata as root")
	}
	return nil
}
