package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestParseNormalisesAsDocker(t *testing.T) {
	const dg = "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1"
	for _, c := range []struct{ in, name, registry, repo string }{
		{"alpine", "docker.io/library/alpine:latest", "docker.io", "library/alpine"},
		{"alpine:3.20", "docker.io/library/alpine:3.20", "docker.io", "library/alpine"},
		{"library/alpine:3.20", "docker.io/library/alpine:3.20", "docker.io", "library/alpine"},
		{"docker.io/alpine", "docker.io/library/alpine:latest", "docker.io", "library/alpine"},
		{"index.docker.io/library/alpine:1", "docker.io/library/alpine:1", "docker.io", "library/alpine"},
		{"user/app", "docker.io/user/app:latest", "docker.io", "user/app"},
		{"ghcr.io/o/r:tag", "ghcr.io/o/r:tag", "ghcr.io", "o/r"},
		{"127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000", "x"},
		{"localhost/x", "localhost/x:latest", "localhost", "x"},
		{"localhost:5000/a/b@" + dg, "localhost:5000/a/b@" + dg, "localhost:5000", "a/b"},
		{"alpine:3.20@" + dg, "docker.io/library/alpine@" + dg, "docker.io", "library/alpine"},
	} {
		r, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if r.Name != c.name || r.Registry != c.registry || r.Repository != c.repo {
			t.Errorf("Parse(%q) = %q (%s, %s), want %q (%s, %s)", c.in, r.Name, r.Registry, r.Repository, c.name, c.registry, c.repo)
		}
	}
	if r, _ := Parse("alpine"); r.host() != "index.docker.io" {
		t.Errorf("Docker Hub requests go to %s, want index.docker.io", r.host())
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "empty"},
		{"Alpine", "must be lowercase"},
		{"ghcr.io/Org/app", "must be lowercase"},
		{"http://reg/x", "no scheme; write reg/x"},
		{"oci:dir", "local archive"},
		{"docker-archive:f.tar", "local archive"},
		{"4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1", "image id"},
		{"a b", "invalid reference"},
		{"x:", "invalid reference"},
	} {
		_, err := Parse(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", c.in, err, c.want)
		}
	}
}

func TestInsecurePolicy(t *testing.T) {
	p, err := NewPolicy([]string{"registry.lan:5000", "plain.lan", "10.1.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"localhost":         true,
		"localhost:5000":    true,
		"127.0.0.1:5000":    true,
		"127.8.9.10":        true,
		"[::1]:5000":        true,
		"::1":               true,
		"registry.lan:5000": true,
		"registry.lan:6000": false, // the entry names a port
		"plain.lan:443":     true,  // the entry names the host only
		"10.1.2.3:5000":     true,
		"10.2.0.1:5000":     false, // RFC 1918, but not listed: TLS, as docker
		"192.168.1.1":       false,
		"index.docker.io":   false,
		"ghcr.io":           false,
		"localhost.evil.io": false,
	} {
		if got := p.Insecure(host); got != want {
			t.Errorf("Insecure(%q) = %v, want %v", host, got, want)
		}
	}
	for _, bad := range []string{"http://reg:5000", "", "a/b"} {
		if _, err := NewPolicy([]string{bad}); err == nil || !strings.Contains(err.Error(), "--insecure-registry") {
			t.Errorf("NewPolicy(%q) = %v, want an error naming --insecure-registry", bad, err)
		}
	}
}

type recordRT struct{ urls []string }

func (r *recordRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// The transport speaks TLS to every registry the policy does not allow,
// whatever go-containerregistry asked for (it asks HTTP for RFC 1918
// hosts), and HTTP to allowed ones only when they do not speak TLS.
func TestTransportEnforcesPolicy(t *testing.T) {
	p, _ := NewPolicy([]string{"registry.lan:5000"})
	rec := &recordRT{}
	tlsHosts := map[string]bool{"registry.lan:5000": true}
	tr := &policyTransport{policy: p, secure: rec, insecure: rec, probe: func(_ context.Context, h string) bool { return tlsHosts[h] }}
	for _, u := range []string{
		"http://10.0.0.5:5000/v2/",
		"https://ghcr.io/v2/",
		"http://127.0.0.1:5000/v2/",
		"http://registry.lan:5000/v2/",
	} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"https://10.0.0.5:5000/v2/",
		"https://ghcr.io/v2/",
		"http://127.0.0.1:5000/v2/",
		"https://registry.lan:5000/v2/",
	}
	if strings.Join(rec.urls, " ") != strings.Join(want, " ") {
		t.Errorf("requests went to\n%v\nwant\n%v", rec.urls, want)
	}
}
