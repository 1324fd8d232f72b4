// Command report prints, as JSON, what a process sees of its container. The
// sandbox tests copy it into a test rootfs and run it.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
)

type report struct {
	Pid        int
	Ppid       int
	Procs      []int
	Hostname   string
	UID, GID   int
	EUID       int
	Groups     []int
	CapEff     string
	CapPrm     string
	CapBnd     string
	CapInh     string
	CapAmb     string
	NoNewPrivs string
	Mounts     []string // mount points from /proc/self/mountinfo
	Cwd        string
	Env        []string
	WroteRoot  string // error writing /report-was-here, "" if it worked
	NoFile     string // "Max open files" line of /proc/self/limits
	Netdevs    []string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "syscalls" {
		syscallReport()
		return
	}
	if isNet(os.Args) {
		netReport(os.Args[2:])
		return
	}
	r := report{Pid: os.Getpid(), Ppid: os.Getppid(), UID: os.Getuid(), GID: os.Getgid(), EUID: os.Geteuid(), Env: os.Environ()}
	r.Hostname, _ = os.Hostname()
	r.Groups, _ = os.Getgroups()
	r.Cwd, _ = os.Getwd()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			r.Procs = append(r.Procs, n)
		}
	}
	if f, err := os.Open("/proc/self/status"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			k, v, _ := strings.Cut(s.Text(), ":")
			v = strings.TrimSpace(v)
			switch k {
			case "CapEff":
				r.CapEff = v
			case "CapPrm":
				r.CapPrm = v
			case "CapBnd":
				r.CapBnd = v
			case "CapInh":
				r.CapInh = v
			case "CapAmb":
				r.CapAmb = v
			case "NoNewPrivs":
				r.NoNewPrivs = v
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(line); len(f) > 4 {
				r.Mounts = append(r.Mounts, f[4])
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Max open files") {
				r.NoFile = strings.Join(strings.Fields(line), " ")
			}
		}
	}
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			r.Netdevs = append(r.Netdevs, e.Name())
		}
	}
	if err := os.WriteFile("/report-was-here", []byte("x"), 0o644); err != nil {
		r.WroteRoot = err.Error()
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	_ = enc.Encode(r)
}
