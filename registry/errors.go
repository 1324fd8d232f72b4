package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// explain turns a go-containerregistry or network error about r into one
// that says what happened in words and what to do. The original error
// stays reachable with errors.Is/As.
func explain(err error, r Ref) error {
	if err == nil {
		return nil
	}
	host := r.Registry
	var (
		dnsErr  *net.DNSError
		tErr    *transport.Error
		unknown x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invalid x509.CertificateInvalidError
		recErr  tls.RecordHeaderError
		netErr  net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{Ref: r, Msg: fmt.Sprintf("registry %s refused the connection (is it running, on that port?)", host), Err: err}
	case errors.As(err, &dnsErr):
		return &Error{Ref: r, Msg: fmt.Sprintf("cannot resolve registry host %s (%s): no network, or a typo in the name", dnsErr.Name, dnsErr.Err), Err: err}
	case errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &invalid):
		return &Error{Ref: r, Msg: fmt.Sprintf("the TLS certificate of registry %s is not trusted (%v); if you trust this registry, allow it with --insecure-registry %s", host, err, host), Err: err}
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &Error{Ref: r, Msg: fmt.Sprintf("registry %s answers plain HTTP, not HTTPS; allow it with --insecure-registry %s", host, host), Err: err}
	case errors.As(err, &tErr):
		return &Error{Ref: r, Msg: statusText(tErr, r), Err: err}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &Error{Ref: r, Msg: fmt.Sprintf("registry %s did not answer in time", host), Err: err}
	}
	return &Error{Ref: r, Msg: err.Error(), Err: err}
}

func statusText(e *transport.Error, r Ref) string {
	codes := map[transport.ErrorCode]bool{}
	for _, d := range e.Errors {
		codes[d.Code] = true
	}
	switch {
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden || codes[transport.UnauthorizedErrorCode] || codes[transport.DeniedErrorCode]:
		return fmt.Sprintf("registry %s denied access to %s (HTTP %d): log in with `docker login %s` (strata reads %s and its credential helpers), or check the name", r.Registry, r.Repo(), e.StatusCode, r.Registry, dockerConfigFile())
	case e.StatusCode == http.StatusNotFound || codes[transport.ManifestUnknownErrorCode] || codes[transport.NameUnknownErrorCode]:
		what := "tag " + r.Tag
		if r.Digest != "" {
			what = "digest " + r.Digest
		}
		return fmt.Sprintf("no such image in registry %s (%s not found in %s)", r.Registry, what, r.Repository)
	case e.StatusCode == http.StatusTooManyRequests || codes[transport.TooManyRequestsErrorCode]:
		return fmt.Sprintf("registry %s refuses more requests for now (rate limit, HTTP 429): wait, or log in for a higher limit", r.Registry)
	}
	return fmt.Sprintf("registry %s: %v", r.Registry, e)
}

// dockerConfigFile is where credentials are read from, as docker finds it.
func dockerConfigFile() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	return "~/.docker/config.json"
}

// Error is a registry operation's failure on one reference.
type Error struct {
	Ref Ref
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }
