package source

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/strata-build/strata/layers"
	"github.com/strata-build/strata/layers/beneath"
	"golang.org/x/sys/unix"
)

// How COPY's sources are opened: by the host path stat or walk returned,
// but always resolved again beneath the source's root with no symlink on
// the way, so a path that changed since it was checked (a directory swapped
// for a symlink) fails instead of leading onto the host.

// Close releases the context's descriptors.
func (c *Context) Close() {
	c.dir.Close()
	c.real.Close()
}

// hostPath is the resolved host path of p (the last symlink followed when
// follow), read back from the descriptor that resolved it beneath the
// context.
func (c *Context) hostPath(p string, follow bool) (string, error) {
	flag := unix.O_PATH | unix.O_NOFOLLOW
	if follow {
		flag = unix.O_PATH
	}
	f, err := c.dir.OpenFile(p, flag, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	host, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return "", err
	}
	if _, ok := c.nameOf(host); !ok {
		return "", fmt.Errorf("%s resolved to %s, outside the build context %s", p, host, c.root)
	}
	return host, nil
}

// nameOf is the name beneath the context root of a host path inside it.
func (c *Context) nameOf(host string) (string, bool) {
	if host == c.root {
		return "/", true
	}
	prefix := strings.TrimSuffix(c.root, "/") + "/"
	if !strings.HasPrefix(host, prefix) {
		return "", false
	}
	return host[len(prefix)-1:], true
}

// Open opens the regular file at host (a path Stat or Walk returned),
// resolved beneath the context with no symlink on the way.
func (c *Context) Open(host string) (*os.File, error) {
	name, ok := c.nameOf(host)
	if !ok {
		return nil, fmt.Errorf("%s is outside the build context %s", host, c.root)
	}
	return beneath.OpenRegular(c.real.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0))
}

// Readlink reads the symlink at host (a path Stat or Walk returned),
// resolved beneath the context with no symlink on the way.
func (c *Context) Readlink(host string) (string, error) {
	name, ok := c.nameOf(host)
	if !ok {
		return "", fmt.Errorf("%s is outside the build context %s", host, c.root)
	}
	return c.real.Readlink(name)
}

// entry finds the layer of a host path the view returned.
func (v *View) entry(host string) (*layers.Entry, error) {
	for i, l := range v.view.Lowers {
		if rest, ok := strings.CutPrefix(host, strings.TrimSuffix(l, "/")+"/"); ok {
			return &layers.Entry{Path: "/" + rest, Host: host, Layer: i}, nil
		}
	}
	return nil, errors.New(host + " is not in the source image's layers")
}

// Open opens the regular file at host (a path Stat or Walk returned)
// beneath its layer.
func (v *View) Open(host string) (*os.File, error) {
	e, err := v.entry(host)
	if err != nil {
		return nil, err
	}
	return beneath.OpenRegular(v.view.Open(e))
}

// Readlink reads the symlink at host beneath its layer.
func (v *View) Readlink(host string) (string, error) {
	e, err := v.entry(host)
	if err != nil {
		return "", err
	}
	return v.view.Readlink(e)
}
