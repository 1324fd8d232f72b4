package sandbox

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// factScript prints, in sections, what a RUN step sees of its isolation.
// No real host device is named: b 240:250 is in the range left for local
// use, which no driver here has.
const factScript = `echo '## status'; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
echo '## uid_map'; cat /proc/self/uid_map
echo '## ns'; for n in cgroup ipc mnt net pid uts; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo '## net'; ls /sys/class/net
echo '## mountinfo'; cat /proc/self/mountinfo
echo '## device'; mknod /tmp/blk b 240 250 && echo mknod-ok; head -c1 /tmp/blk 2>&1 >/dev/null | sed 's/.*: //'
echo '## masked'; for p in /proc/acpi /proc/asound /proc/interrupts /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware /sys/devices/virtual/powercap; do if [ -c $p ] || { [ -d $p ] && [ -z "$(ls -A $p)" ]; }; then echo $p; elif [ -e $p ]; then echo "open $p"; fi; done; true
`

// observedFacts runs factScript in a container with the default spec and
// turns its output into the facts SECURITY.md's table states.
func observedFacts(t *testing.T) map[string]string {
	t.Helper()
	spec := newSpec(t, busyboxRootfs(t), "/bin/sh", "-c", factScript)
	r := mustRun(t, spec)
	sections := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "## "); ok {
			cur = name
			continue
		}
		sections[cur] = append(sections[cur], sc.Text())
	}
	facts := map[string]string{}
	for _, l := range sections["status"] {
		k, v, _ := strings.Cut(l, ":")
		facts[k] = k + " " + strings.TrimSpace(v)
	}
	facts["capabilities"] = facts["CapEff"]
	facts["no_new_privs"] = facts["NoNewPrivs"]
	facts["seccomp"] = facts["Seccomp"]
	if len(sections["uid_map"]) > 0 {
		facts["user"] = "uid_map " + strings.Join(strings.Fields(sections["uid_map"][0]), " ")
	}
	// Namespaces: which differ from the test process's own.
	var fresh, shared []string
	for _, l := range sections["ns"] {
		n, link, _ := strings.Cut(l, " ")
		host, _ := os.Readlink(filepath.Join("/proc/self/ns", n))
		if host != link {
			fresh = append(fresh, n)
		} else {
			shared = append(shared, n)
		}
	}
	facts["namespaces"] = "new: " + strings.Join(fresh, " ") + "; shared: " + strings.Join(shared, " ")
	facts["network"] = "interfaces: " + strings.Join(sections["net"], " ")
	// Mount options that matter, per mount point.
	want := regexp.MustCompile(`^(ro|nosuid|nodev|noexec)$`)
	mounts := map[string]string{}
	for _, l := range sections["mountinfo"] {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		var opts []string
		for _, o := range strings.Split(f[5], ",") {
			if want.MatchString(o) {
				opts = append(opts, o)
			}
		}
		mounts[f[4]] = f[4] + " " + strings.Join(opts, ",")
	}
	for _, m := range []string{"/proc", "/sys", "/dev", "/dev/shm", "/dev/mqueue", "/proc/sys"} {
		facts["mount "+m] = mounts[m]
	}
	dev := sections["device"]
	if len(dev) >= 2 && dev[0] == "mknod-ok" {
		facts["devices"] = "mknod b 240:250 works, open: " + dev[1]
	} else {
		facts["devices"] = "mknod b 240:250: " + strings.Join(dev, " ")
	}
	// A masked path is /dev/null bound over a file or an empty tmpfs over a
	// dir; a path this kernel does not have is not listed.
	var readable []string
	for _, l := range sections["masked"] {
		if p, ok := strings.CutPrefix(l, "open "); ok {
			readable = append(readable, p)
		}
	}
	if len(readable) == 0 {
		readable = []string{"none"}
	}
	facts["masked paths"] = "readable: " + strings.Join(readable, " ")
	return facts
}

// TestSecurityDefaultsDocumented keeps SECURITY.md's table of Docker's
// defaults against strata's true: every strata cell's `fact` is read back
// from a running container.
func TestSecurityDefaultsDocumented(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("the table is for amd64 and arm64")
	}
	if _, err := slirpBinary(); err != nil {
		t.Skipf("the default network needs slirp4netns: %v", err)
	}
	doc, err := os.ReadFile("../SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	facts := observedFacts(t)
	row := regexp.MustCompile(`^\| *([^|]+?) *\|[^|]*\|([^|]*)\|`)
	fact := regexp.MustCompile("`([^`]+)`")
	checked := 0
	for _, line := range strings.Split(string(doc), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := strings.Trim(m[1], "* ")
		got, ok := facts[key]
		if !ok {
			continue // a row the test cannot observe (said so in the table)
		}
		cells := fact.FindAllStringSubmatch(m[2], -1)
		if len(cells) == 0 {
			t.Errorf("SECURITY.md row %q states no `fact` in strata's column; observed: %s", key, got)
			continue
		}
		var stated []string
		for _, c := range cells {
			stated = append(stated, c[1])
		}
		if !slices.Contains(stated, got) {
			t.Errorf("SECURITY.md row %q says %q; a running container shows %q", key, stated, got)
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("only %d rows of SECURITY.md's table were checked; facts observed: %v", checked, facts)
	}
}
