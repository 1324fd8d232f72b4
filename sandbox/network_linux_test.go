package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireSlirp skips the test, with the reason, without slirp4netns (the
// default network needs it; CI installs it).
func requireSlirp(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		t.Skip("needs slirp4netns for the default network (Debian package slirp4netns)")
	}
}

type netReportT struct {
	Interfaces []string
	Dial       map[string]string
	Sniffed    bool
	SniffErr   string
	SniffIfs   []string
}

func runNetReport(t *testing.T, lower, network string, args ...string) netReportT {
	t.Helper()
	spec := newSpec(t, lower, append([]string{"report", "net"}, args...)...)
	spec.Network = network
	r := mustRun(t, spec)
	checkNoSlirp(t)
	var rep netReportT
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report net: %v\n%s", err, r.stdout)
	}
	return rep
}

// checkNoSlirp: no slirp4netns child of this process is left.
func checkNoSlirp(t testing.TB) {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "(slirp4netns") {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == me {
			t.Errorf("slirp4netns (pid %s) left running or unreaped: %s", e.Name(), s)
		}
	}
}

func hostInterfaces(t testing.TB) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	return names
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestNetworkHostLoopback: a listener on the host's 127.0.0.1 (and a host
// abstract unix socket) is out of reach and out of sight with the default
// network (also through slirp's gateway, 10.0.2.2) and with none; with
// host, the container reaches and sees it.
func TestNetworkHostLoopback(t *testing.T) {
	lower := busyboxRootfs(t)
	requireSlirp(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	abstract := "strata-test-" + randHex(6)
	uln, err := net.Listen("unix", "@"+abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	go func() {
		for {
			c, err := uln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	loop := "127.0.0.1:" + strconv.Itoa(port)
	gw := slirpGateway + ":" + strconv.Itoa(port)
	inTCP := fmt.Sprintf("0100007F:%04X", port) // how /proc/net/tcp shows the listener
	before := hostInterfaces(t)

	for _, network := range []string{"", "default", "none", "host"} {
		t.Run("network="+network, func(t *testing.T) {
			rep := runNetReport(t, lower, network, "-dial", loop, "-dial", gw, "-unix", abstract)
			spec := newSpec(t, lower, "cat", "/proc/net/tcp")
			spec.Network = network
			seen := strings.Contains(mustRun(t, spec).stdout, inTCP)
			checkNoSlirp(t)
			if network == "host" {
				if rep.Dial[loop] != "OK" || rep.Dial["@"+abstract] != "OK" || !seen {
					t.Fatalf("host network: dial %v, listener in /proc/net/tcp %v; want both reachable and seen", rep.Dial, seen)
				}
				return
			}
			for _, a := range []string{loop, gw, "@" + abstract} {
				if rep.Dial[a] == "OK" || rep.Dial[a] == "" {
					t.Errorf("network %q: connecting to host's %s: %q, want refused", network, a, rep.Dial[a])
				}
			}
			if seen {
				t.Errorf("network %q: the host's listener %s shows in the container's /proc/net/tcp", network, loop)
			}
			want := []string{"lo", slirpTap}
			if network == "none" {
				want = []string{"lo"}
			}
			if !reflect.DeepEqual(rep.Interfaces, want) {
				t.Errorf("network %q: interfaces %v, want %v", network, rep.Interfaces, want)
			}
		})
	}
	if after := hostInterfaces(t); !reflect.DeepEqual(before, after) {
		t.Errorf("host interfaces changed: %v, then %v", before, after)
	}
}

// signalWriter closes ready when what it is given contains word.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	word  string
	ready chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.word) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

// TestNetworkSniff: with CAP_NET_RAW (Docker's default) a RUN opens an
// AF_PACKET socket; on the default network it sees only its own lo and
// tap0, never the host's loopback traffic. The host network does see it
// (the test's own check that the sniffer works).
func TestNetworkSniff(t *testing.T) {
	lower := busyboxRootfs(t)
	requireSlirp(t)
	for _, network := range []string{"default", "none", "host"} {
		t.Run("network="+network, func(t *testing.T) {
			marker := "strata-sniff-" + randHex(8)
			spec := newSpec(t, lower, "report", "net", "-sniff", marker, "1500ms")
			spec.Network = network
			var stdout bytes.Buffer
			stderr := &signalWriter{word: "sniffing", ready: make(chan struct{})}
			done := make(chan error, 1)
			var code int
			go func() {
				var err error
				code, err = Run(context.Background(), spec, &stdout, stderr)
				done <- err
			}()
			conn, err := net.Dial("udp4", "127.0.0.1:9") // discard: nobody needs to listen
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var runErr error
		send:
			for {
				select {
				case runErr = <-done:
					break send
				case <-stderr.ready:
					_, _ = conn.Write([]byte(marker))
					time.Sleep(20 * time.Millisecond)
				case <-time.After(20 * time.Millisecond):
				}
			}
			checkNoLeftovers(t, spec)
			checkNoSlirp(t)
			if runErr != nil || code != 0 {
				t.Fatalf("Run = %d, %v\n%s\n%s", code, runErr, stdout.String(), stderr.buf.String())
			}
			var rep netReportT
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("report: %v\n%s", err, stdout.String())
			}
			if rep.SniffErr != "" {
				t.Fatalf("AF_PACKET socket: %s (CAP_NET_RAW is in Docker's default set)", rep.SniffErr)
			}
			if network == "host" {
				if !rep.Sniffed {
					t.Fatalf("host network: the host's loopback packet was not captured (sniffer broken?): %+v", rep)
				}
				return
			}
			if rep.Sniffed {
				t.Fatalf("network %q: the container captured the host's loopback traffic (interfaces seen: %v)", network, rep.SniffIfs)
			}
			want := map[string]bool{"lo": true, slirpTap: network == "default"}
			for _, i := range rep.SniffIfs {
				if !want[i] {
					t.Errorf("network %q: packets seen on %q, want only %v", network, i, rep.Interfaces)
				}
			}
		})
	}
}

// TestNetworkResolvConf: on the default network, /etc/resolv.conf names
// slirp4netns's DNS forwarder, in a RUN (BuildEtc) and in strata run.
func TestNetworkResolvConf(t *testing.T) {
	lower := busyboxRootfs(t)
	requireSlirp(t)
	for _, buildEtc := range []bool{true, false} {
		spec := newSpec(t, lower, "sh", "-c", "grep nameserver /etc/resolv.conf; ip route; ip addr show tap0 | grep -o 'mtu [0-9]*'")
		spec.BuildEtc = buildEtc
		r := mustRun(t, spec)
		checkNoSlirp(t)
		want := "nameserver " + slirpDNS + "\n"
		if !strings.HasPrefix(r.stdout, want) || strings.Count(r.stdout, "nameserver") != 1 {
			t.Errorf("BuildEtc %v: resolv.conf nameservers %q, want only %q", buildEtc, r.stdout, want)
		}
		for _, w := range []string{"default via " + slirpGateway + " dev tap0", "src " + slirpAddr, "mtu " + strconv.Itoa(slirpMTU)} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("BuildEtc %v: %q missing in\n%s", buildEtc, w, r.stdout)
			}
		}
	}
}

func TestSlirpResolvConf(t *testing.T) {
	host := "# generated\nnameserver 127.0.0.53\nsearch example.org corp.example\noptions edns0 trust-ad\nnameserver ::1\n"
	want := "nameserver 10.0.2.3\nsearch example.org corp.example\noptions edns0 trust-ad\n"
	if got := string(slirpResolvConf([]byte(host))); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// ipCmd runs ip(8) and fails the test on error.
func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// testServer is an HTTP server (busybox httpd) in a network namespace the
// test makes, joined to the host by a veth pair with addresses from the
// documentation range 192.0.2.0/24: never an address of the machine's own
// networks.
type testServer struct {
	addr string // host:port
	body string // what /file holds
}

func startTestServer(t *testing.T) testServer {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) to make the test's network namespace (Debian package iproute2)")
	}
	id := randHex(3)
	ns := "strata-test-" + id
	hostIf, nsIf := "stv"+id+"h", "stv"+id+"n"
	// A /30 of 192.0.2.0/24 at random: two runs at once do not collide.
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	base := 4 * (1 + int(b[0])%62)
	hostIP, nsIP := fmt.Sprintf("192.0.2.%d", base+1), fmt.Sprintf("192.0.2.%d", base+2)

	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", hostIf).Run()
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})
	ipCmd(t, "link", "add", hostIf, "type", "veth", "peer", "name", nsIf, "netns", ns)
	ipCmd(t, "addr", "add", hostIP+"/30", "dev", hostIf)
	ipCmd(t, "link", "set", hostIf, "up")
	ipCmd(t, "-n", ns, "addr", "add", nsIP+"/30", "dev", nsIf)
	ipCmd(t, "-n", ns, "link", "set", nsIf, "up")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")

	www := t.TempDir()
	body := "hello from " + ns + "\n"
	if err := os.WriteFile(filepath.Join(www, "file"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := nsIP + ":8080"
	srv := exec.Command("ip", "netns", "exec", ns, "/bin/busybox", "httpd", "-f", "-p", addr, "-h", www)
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("test HTTP server on %s in %s not reachable from the host: %v\n%s", addr, ns, err, srvOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return testServer{addr: addr, body: body}
}

// TestNetworkOutbound: the default network reaches an HTTP server outside
// the machine's own namespaces (in the test's own namespace, through
// slirp4netns and the host's route to it); none does not.
func TestNetworkOutbound(t *testing.T) {
	lower := busyboxRootfs(t)
	requireSlirp(t)
	srv := startTestServer(t)
	url := "http://" + srv.addr + "/file"

	// No wget -T: busybox 1.35's wget crashes with it.
	spec := newSpec(t, lower, "timeout", "20", "wget", "-q", "-O", "-", url)
	r := mustRun(t, spec)
	checkNoSlirp(t)
	if r.stdout != srv.body {
		t.Fatalf("default network: wget %s = %q, want %q", url, r.stdout, srv.body)
	}

	spec = newSpec(t, lower, "timeout", "5", "wget", "-q", "-O", "-", url)
	spec.Network = "none"
	if r := run(t, spec); r.err != nil || r.code == 0 {
		t.Fatalf("network none: wget %s = %d, %v (%q), want a failure", url, r.code, r.err, r.stdout)
	}
}

// TestNetworkNoSlirp: without slirp4netns the default network fails before
// anything starts, saying what to install or use instead.
func TestNetworkNoSlirp(t *testing.T) {
	lower := busyboxRootfs(t)
	t.Setenv("PATH", t.TempDir())
	spec := newSpec(t, lower, "true")
	r := run(t, spec)
	if r.err == nil || !strings.Contains(r.err.Error(), "apt-get install slirp4netns") || !strings.Contains(r.err.Error(), "--network host") {
		t.Fatalf("Run without slirp4netns = %d, %v; want an error naming slirp4netns and --network host/none", r.code, r.err)
	}
	if err := CheckNetwork("default"); err == nil {
		t.Error("CheckNetwork(default) without slirp4netns = nil")
	}
	for _, n := range []string{"host", "none"} {
		if err := CheckNetwork(n); err != nil {
			t.Errorf("CheckNetwork(%s) = %v", n, err)
		}
	}
	if err := CheckNetwork("bridge"); err == nil || !strings.Contains(err.Error(), "want default, host or none") {
		t.Errorf("CheckNetwork(bridge) = %v", err)
	}
}

// TestNetworkSlirpStops: slirp4netns is stopped and reaped however the
// container ends: a setup failure, a cancelled context, a command that
// exits at once.
func TestNetworkSlirpStops(t *testing.T) {
	lower := busyboxRootfs(t)
	requireSlirp(t)

	spec := newSpec(t, lower, "true")
	spec.Dir = "/etc/passwd" // not a directory: the init fails during setup
	if r := run(t, spec); r.err == nil {
		t.Fatalf("Run with a file as working directory = %d, nil", r.code)
	}
	checkNoSlirp(t)

	spec = newSpec(t, lower, "sleep", "60")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, err := Run(ctx, spec, io.Discard, io.Discard)
	if err == nil || code != 137 || time.Since(start) > 20*time.Second {
		t.Fatalf("cancelled Run = %d, %v after %s", code, err, time.Since(start))
	}
	checkNoLeftovers(t, spec)
	checkNoSlirp(t)

	// Cancelled while waiting for the network, before the command runs.
	spec = newSpec(t, lower, "true")
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, _ = Run(ctx, spec, io.Discard, io.Discard)
	checkNoLeftovers(t, spec)
	checkNoSlirp(t)
}

// BenchmarkNetwork compares a trivial Run (/bin/true) on each network,
// interleaved so that machine noise hits all alike:
// go test ./sandbox -run '^$' -bench Network -benchtime 20x
func BenchmarkNetwork(b *testing.B) {
	lower := busyboxRootfs(b)
	requireSlirp(b)
	base := b.TempDir()
	modes := []string{"default", "host", "none"}
	total := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range modes {
			dir := filepath.Join(base, fmt.Sprint(i, m))
			spec := &Spec{
				Lower: []string{lower}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
				TmpDir: base, Args: []string{"/bin/true"}, Network: m,
			}
			for _, d := range []string{spec.Upper, spec.Work} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			start := time.Now()
			code, err := Run(context.Background(), spec, nil, nil)
			total[m] += time.Since(start)
			if err != nil || code != 0 {
				b.Fatalf("Run(network %s) = %d, %v", m, code, err)
			}
		}
	}
	n := float64(b.N)
	for _, m := range modes {
		b.ReportMetric(float64(total[m].Microseconds())/1000/n, m+"-ms/op")
	}
	b.ReportMetric(float64(total["default"])/float64(total["host"]), "default/host")
	b.ReportMetric(float64(total["none"])/float64(total["host"]), "none/host")
}
