package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/assets"
)

// TestNetworkBuildAndRun: a RUN and strata run get a private network by
// default (the host's 127.0.0.1 is out of reach; lo and tap0 only, DNS
// through slirp4netns), --network host and none on request, and a
// Dockerfile's RUN --network=host is refused unless --allow network.host.
func TestNetworkBuildAndRun(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	requireTool(t, "slirp4netns")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "host-loopback-only\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/"

	tmp := t.TempDir()
	ctx := filepath.Join(tmp, "ctx")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := assets.WriteBusyboxRootfs(filepath.Join(ctx, "rootfs.tar")); err != nil {
		t.Fatal(err)
	}
	probe := `(wget -q -O - ` + url + ` 2>/dev/null || echo unreachable); ls /sys/class/net | tr '\n' ' '; echo; grep nameserver /etc/resolv.conf || echo no-nameserver`
	write := func(df string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(tmp, "root")
	write("FROM scratch\nADD rootfs.tar /\nRUN { " + probe + "; } > /net-default.txt\nRUN --network=none { " + probe + "; } > /net-none.txt\n")
	mustStrata(t, "build", "--root", root, "-t", "net", ctx)
	for _, c := range []struct{ file, want string }{
		{"/net-default.txt", "unreachable\nlo tap0 \nnameserver 10.0.2.3\n"},
		{"/net-none.txt", "unreachable\nlo \nno-nameserver\n"},
	} {
		if got := mustStrata(t, "run", "--root", root, "--network", "none", "net", "cat", c.file); got != c.want {
			t.Errorf("RUN %s: %q, want %q", c.file, got, c.want)
		}
	}
	// The whole build on the host's network, on request.
	mustStrata(t, "build", "--root", root, "--network", "host", "-t", "net-host", ctx)
	if got := mustStrata(t, "run", "--root", root, "--network", "none", "net-host", "cat", "/net-default.txt"); !strings.HasPrefix(got, "host-loopback-only\n") {
		t.Errorf("RUN with build --network host: %q, want the host's 127.0.0.1 server's answer", got)
	}

	// strata run: default (also docker's name, bridge), none, host.
	for _, c := range []struct{ network, want string }{
		{"default", "unreachable\nlo tap0 \n"},
		{"bridge", "unreachable\nlo tap0 \n"},
		{"none", "unreachable\nlo \n"},
	} {
		got := mustStrata(t, "run", "--root", root, "--network", c.network, "net", "sh", "-c", probe)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("strata run --network %s: %q, want %q...", c.network, got, c.want)
		}
	}
	if got := mustStrata(t, "run", "--root", root, "net", "sh", "-c", probe); !strings.HasPrefix(got, "unreachable\nlo tap0 \nnameserver 10.0.2.3\n") {
		t.Errorf("strata run without --network: %q, want the private network", got)
	}
	if got := mustStrata(t, "run", "--root", root, "--network", "host", "net", "wget", "-q", "-O", "-", url); got != "host-loopback-only\n" {
		t.Errorf("strata run --network host: %q, want the host's 127.0.0.1 server's answer", got)
	}
	if out, err := strata(t, "run", "--root", root, "--network", "container:x", "net", "true"); err == nil || !strings.Contains(out, "want default (or bridge), host or none") {
		t.Errorf("strata run --network container:x = %v: %s", err, out)
	}

	// A Dockerfile cannot take the host's network by itself.
	write("FROM scratch\nADD rootfs.tar /\nRUN --network=host wget -q -O /got " + url + "\n")
	out, err := strata(t, "build", "--root", root, ctx)
	if err == nil || !strings.Contains(out, "Dockerfile:3: RUN --network=host: network.host is not allowed") || !strings.Contains(out, "--allow network.host") {
		t.Errorf("RUN --network=host without --allow: %v\n%s", err, out)
	}
	mustStrata(t, "build", "--root", root, "--allow", "network.host", "-t", "allowed", ctx)
	if got := mustStrata(t, "run", "--root", root, "allowed", "cat", "/got"); got != "host-loopback-only\n" {
		t.Errorf("RUN --network=host with --allow network.host: %q", got)
	}
	if out, err := strata(t, "build", "--root", root, "--allow", "security.insecure", ctx); err == nil || !strings.Contains(out, "--allow \"security.insecure\"") {
		t.Errorf("--allow security.insecure = %v: %s", err, out)
	}
	checkClean(t, root)
}
