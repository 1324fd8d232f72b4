package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Policy says which registries may be reached without TLS verification,
// over plain HTTP when they do not speak TLS: loopback ones (localhost,
// 127.0.0.0/8, ::1), as docker allows by default, and those named with
// --insecure-registry. Every other registry is spoken to over verified TLS.
type Policy struct {
	hosts []string     // host or host:port
	nets  []*net.IPNet // CIDR entries
}

// NewPolicy checks --insecure-registry values: HOST, HOST:PORT or a CIDR.
func NewPolicy(insecure []string) (Policy, error) {
	var p Policy
	for _, v := range insecure {
		h := strings.TrimSpace(v)
		switch {
		case h == "":
			return p, fmt.Errorf("--insecure-registry: empty value: want HOST[:PORT] or a CIDR (e.g. registry.lan:5000, 10.0.0.0/8)")
		case strings.Contains(h, "://"):
			return p, fmt.Errorf("--insecure-registry %q: give the host without a scheme: --insecure-registry %s", v, h[strings.Index(h, "://")+3:])
		}
		if _, n, err := net.ParseCIDR(h); err == nil {
			p.nets = append(p.nets, n)
			continue
		}
		if strings.ContainsAny(h, "/ \t") {
			return p, fmt.Errorf("--insecure-registry %q: want HOST[:PORT] or a CIDR (e.g. registry.lan:5000, 10.0.0.0/8)", v)
		}
		p.hosts = append(p.hosts, strings.ToLower(h))
	}
	return p, nil
}

// splitHost splits host[:port] ("[::1]:5000" too); port may be "".
func splitHost(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h), p
	}
	return strings.ToLower(strings.Trim(hostport, "[]")), ""
}

// Insecure reports whether plain HTTP (or TLS without verification) is
// allowed for the registry at hostport.
func (p Policy) Insecure(hostport string) bool {
	host, _ := splitHost(hostport)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	hp := strings.ToLower(hostport)
	for _, h := range p.hosts {
		if h == hp || h == host {
			return true
		}
	}
	if ip != nil {
		for _, n := range p.nets {
			if n.Contains(ip) {
				return true
			}
		}
	}
	return false
}

var (
	baseOnce      sync.Once
	secureBase    *http.Transport
	insecureBase  *http.Transport
	tlsProbeCache sync.Map // host:port -> bool (speaks TLS)
)

func bases() (*http.Transport, *http.Transport) {
	baseOnce.Do(func() {
		secureBase = remote.DefaultTransport.(*http.Transport).Clone()
		insecureBase = remote.DefaultTransport.(*http.Transport).Clone()
		insecureBase.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for --insecure-registry and loopback hosts
	})
	return secureBase, insecureBase
}

// policyTransport enforces a Policy under go-containerregistry, which on
// its own speaks plain HTTP to private (RFC 1918) addresses and never
// tries TLS on a registry marked insecure:
//   - a registry the policy does not allow gets HTTPS with verification,
//     whatever scheme was asked for;
//   - an allowed one gets HTTPS without verification when it speaks TLS,
//     plain HTTP otherwise (docker's rule for insecure registries).
type policyTransport struct {
	policy   Policy
	secure   http.RoundTripper
	insecure http.RoundTripper
	probe    func(ctx context.Context, host string) bool
}

func newTransport(p Policy, base http.RoundTripper) *policyTransport {
	s, i := bases()
	t := &policyTransport{policy: p, secure: s, insecure: i, probe: speaksTLS}
	if base != nil {
		t.secure, t.insecure = base, base
	}
	return t
}

func (t *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if !t.policy.Insecure(host) {
		if req.URL.Scheme == "http" {
			req = withScheme(req, "https")
		}
		return t.secure.RoundTrip(req)
	}
	if req.URL.Scheme == "http" && t.probe(req.Context(), host) {
		req = withScheme(req, "https")
	}
	return t.insecure.RoundTrip(req)
}

func withScheme(req *http.Request, scheme string) *http.Request {
	r := req.Clone(req.Context())
	u := *req.URL
	u.Scheme = scheme
	r.URL = &u
	return r
}

// speaksTLS reports (once per host per process) whether host completes a
// TLS handshake.
func speaksTLS(ctx context.Context, host string) bool {
	if v, ok := tlsProbeCache.Load(host); ok {
		return v.(bool)
	}
	addr := host
	if _, p := splitHost(host); p == "" {
		addr = net.JoinHostPort(strings.Trim(host, "[]"), "443")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a probe: no data is sent
	c, err := d.DialContext(ctx, "tcp", addr)
	ok := err == nil
	if ok {
		c.Close()
	}
	if err == nil || !isNetErr(err) {
		// A refused connection says nothing about TLS: do not cache it.
		tlsProbeCache.Store(host, ok)
	}
	return ok
}

func isNetErr(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
