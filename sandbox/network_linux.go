package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The default network, as slirp4netns configures it in the container: the
// tap device, its address, the gateway (the host, but never its loopback:
// --disable-host-loopback) and the DNS forwarder written into
// /etc/resolv.conf.
const (
	slirpCIDR    = "10.0.2.0/24"
	slirpTap     = "tap0"
	slirpAddr    = "10.0.2.100"
	slirpGateway = "10.0.2.2"
	slirpDNS     = "10.0.2.3"
	slirpMTU     = 65520
	// slirpReadyTimeout bounds the wait for slirp4netns to configure the
	// network (it takes a few milliseconds).
	slirpReadyTimeout = 20 * time.Second
)

// Why slirp4netns and not a veth pair with NAT: it needs no change on the
// host (no bridge, no iptables rule, no ip_forward, no interface left behind
// when strata is killed), it works the same without root (rootless), and
// --disable-host-loopback keeps the host's 127.0.0.1 out of reach, which a
// NAT to the host would not by itself. The cost is a user-space TCP/IP
// stack: slower transfers than a veth, which a build's downloads rarely
// notice.

// networkMode returns the canonical name of a Spec.Network value.
func networkMode(network string) (string, error) {
	switch network {
	case "", NetworkDefault:
		return NetworkDefault, nil
	case NetworkHost, NetworkNone:
		return network, nil
	}
	return "", fmt.Errorf("sandbox: network %q is not supported (want default, host or none)", network)
}

// CheckNetwork reports why the network mode cannot be used here, or nil:
// an unknown mode, or the default network without slirp4netns.
func CheckNetwork(network string) error {
	mode, err := networkMode(network)
	if err != nil {
		return err
	}
	if mode == NetworkDefault {
		_, err := slirpBinary()
		return err
	}
	return nil
}

// slirpBinary finds slirp4netns in PATH.
func slirpBinary() (string, error) {
	p, err := exec.LookPath("slirp4netns")
	if err != nil {
		return "", errors.New("sandbox: the default network (a private network namespace with outbound access) needs slirp4netns, which is not in PATH: " +
			"install it (Debian/Ubuntu: apt-get install slirp4netns; Fedora: dnf install slirp4netns), or use --network host (the host's network) or --network none (no network)")
	}
	return p, nil
}

// slirpFeatures are the optional hardening flags the installed slirp4netns
// knows, found once from its --help (as podman does).
var slirpFeatures struct {
	once             sync.Once
	sandbox, seccomp bool
	err              error
}

func slirpFlags(bin string) ([]string, error) {
	f := &slirpFeatures
	f.once.Do(func() {
		out, err := exec.Command(bin, "--help").CombinedOutput()
		help := string(out)
		if !strings.Contains(help, "--disable-host-loopback") || !strings.Contains(help, "--ready-fd") || !strings.Contains(help, "--exit-fd") {
			f.err = fmt.Errorf("sandbox: %s is too old: it lacks --disable-host-loopback, --ready-fd or --exit-fd (want slirp4netns 0.4 or later; --help: %v)", bin, errOr(err, "ok"))
			return
		}
		f.sandbox = strings.Contains(help, "--enable-sandbox")
		f.seccomp = strings.Contains(help, "--enable-seccomp")
	})
	if f.err != nil {
		return nil, f.err
	}
	args := []string{"--configure", "--mtu=" + strconv.Itoa(slirpMTU), "--cidr=" + slirpCIDR, "--disable-host-loopback",
		"--ready-fd=3", "--exit-fd=4"}
	if f.sandbox {
		args = append(args, "--enable-sandbox")
	}
	if f.seccomp {
		args = append(args, "--enable-seccomp")
	}
	return args, nil
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// slirpNet is a slirp4netns process serving one container's network
// namespace. It ends when stop closes its exit fd, or when this process
// dies (the exit fd closes with it; Pdeathsig too).
type slirpNet struct {
	cmd    *exec.Cmd
	exitW  *os.File // closing it tells slirp4netns to exit
	readyR *os.File
	ready  chan error // the outcome of reading the ready fd
	out    *tailWriter
	done   bool
}

// startSlirp starts slirp4netns for the network namespace of pid. It does
// not wait for the network: waitReady does.
func startSlirp(pid int) (*slirpNet, error) {
	bin, err := slirpBinary()
	if err != nil {
		return nil, err
	}
	args, err := slirpFlags(bin)
	if err != nil {
		return nil, err
	}
	args = append(args, strconv.Itoa(pid), slirpTap)
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: pipe for slirp4netns: %w", err)
	}
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		return nil, fmt.Errorf("sandbox: pipe for slirp4netns: %w", err)
	}
	s := &slirpNet{exitW: exitW, readyR: readyR, ready: make(chan error, 1), out: &tailWriter{max: 4096}}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{readyW, exitR} // fds 3 and 4
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.WaitDelay = time.Second
	// Its own process group: a Ctrl-C meant for the container's command
	// must not take its network away first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	s.cmd = cmd
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		readyR.Close()
		exitW.Close()
		return nil, fmt.Errorf("sandbox: start %s: %w", bin, err)
	}
	go func() {
		var b [1]byte
		n, err := readyR.Read(b[:])
		switch {
		case n == 1 && b[0] == '1':
			s.ready <- nil
		case err != nil && !errors.Is(err, os.ErrClosed):
			s.ready <- errors.New("it exited before the network was up")
		default:
			s.ready <- fmt.Errorf("unexpected %q on its ready fd", b[:n])
		}
	}()
	return s, nil
}

// waitReady waits until slirp4netns has configured the container's network
// (tap0 up with its address and route, lo up). On failure it stops
// slirp4netns and says why, with what it printed.
func (s *slirpNet) waitReady(ctx context.Context) error {
	timer := time.NewTimer(slirpReadyTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-s.ready:
	case <-ctx.Done():
		s.stop()
		return context.Cause(ctx)
	case <-timer.C:
		err = fmt.Errorf("it did not configure the network within %s", slirpReadyTimeout)
	}
	if err == nil {
		return nil
	}
	s.stop()
	msg := fmt.Sprintf("sandbox: default network: slirp4netns (pid %d): %v", s.cmd.Process.Pid, err)
	if st := s.cmd.ProcessState; st != nil {
		msg += " (" + st.String() + ")"
	}
	if out := strings.TrimSpace(s.out.String()); out != "" {
		msg += "; it printed: " + out
	}
	return errors.New(msg + " (or use --network host or --network none)")
}

// exit tells slirp4netns to exit (EOF on its exit fd) without waiting:
// called when the container has ended, it lets its teardown (the kernel
// unregistering tap0 takes tens of milliseconds) overlap the rest of the
// cleanup. stop reaps it.
func (s *slirpNet) exit() {
	if s != nil && s.exitW != nil {
		s.exitW.Close()
		s.exitW = nil
	}
}

// stop ends slirp4netns and reaps it; it is safe to call more than once.
func (s *slirpNet) stop() {
	if s == nil || s.done {
		return
	}
	s.done = true
	s.exit()
	waited := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(2 * time.Second):
		_ = s.cmd.Process.Kill()
		<-waited
	}
	s.readyR.Close()
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append([]byte(nil), w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(bytes.ReplaceAll(w.b, []byte("\n"), []byte("; ")))
}

// slirpResolvConf is the container's /etc/resolv.conf on the default
// network: slirp4netns's DNS forwarder (which asks the host's resolvers,
// loopback ones included) and the host's search and options lines.
func slirpResolvConf(host []byte) []byte {
	out := "nameserver " + slirpDNS + "\n"
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
			out += strings.Join(f, " ") + "\n"
		}
	}
	return []byte(out)
}
