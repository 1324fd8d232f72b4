package build

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
	"github.com/strata-build/strata/layers/beneath"
)

// The build context is the user's directory, but what is in it is
// anyone's (a cloned repository): a symlink in it may lead to any host
// path. COPY reads the context beneath its root: a source reached through
// a symlink that leads outside is refused with a message naming only what
// is in the context, and nothing outside is read, listed or written.
func TestCopyFromContextStaysInside(t *testing.T) {
	needRoot(t)
	store := newStore(t)
	host, snap := hostDir(t)
	before := snap()
	files := map[string]string{
		"d":        "->" + host,                                    // absolute link to the host dir
		"r":        "->../../../../../../../../../../../.." + host, // relative link climbing out
		"e/in":     "->" + host,                                    // a link inside a copied dir
		"a/pwned":  "context's own",                                // a real file of the same name
		"in/f":     "inside",                                       // links that stay inside work
		"lnk":      "->in",
		"lnkf":     "->in/f",
		"deep/x/y": "deep",
	}
	hostNames := []string{"pwned", ".docker", "config.json", "cron", "host "}
	for _, tc := range []struct {
		df   string
		want map[string]entry // nil: must fail
	}{
		{"COPY d/pwned /x", nil},
		{"COPY d/ /x/", nil},
		{"COPY d /x/", nil},
		{"COPY d/* /x/", nil},
		{"COPY d/.docker/ /x/", nil},
		{"COPY d/.docker/config.json /x", nil},
		{"COPY d/*/config.json /x/", nil},
		{"COPY --parents d/pwned /x/", nil},
		{"COPY r/pwned /x", nil},
		{"COPY r/* /x/", nil},
		{"ADD d/pwned /x", nil},
		{"ADD d/ /x/", nil},
		// A wildcard that matches through the link matches nothing there.
		{"COPY */pwned /x/", map[string]entry{"/x/pwned": fileE("context's own")}},
		// The link itself is content: copied as a symlink, not followed.
		{"COPY e/ /x/", map[string]entry{"/x/in": linkE(host)}},
		{"COPY lnk/f /x", map[string]entry{"/x": fileE("inside")}},
		{"COPY lnk/ /x/", map[string]entry{"/x/f": fileE("inside")}},
		{"COPY lnk/* /x/", map[string]entry{"/x/f": fileE("inside")}},
		{"COPY lnkf /x", map[string]entry{"/x": fileE("inside")}},
		{"COPY deep/ /x/", map[string]entry{"/x/x/y": fileE("deep")}},
	} {
		t.Run(tc.df, func(t *testing.T) {
			r := build(t, store, "FROM scratch\n"+tc.df+"\n", files, frontend.Options{})
			if after := snap(); after != before {
				t.Fatalf("the host dir changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if tc.want != nil {
				if r.err != nil {
					t.Fatalf("build failed: %v", r.err)
				}
				checkStep(t, r, r.lastStep(), tc.want)
				return
			}
			if r.err == nil {
				t.Fatalf("copied through a symlink that leads outside the context: %v", r.changedPaths(t, r.lastStep()))
			}
			msg := r.err.Error()
			if !strings.Contains(msg, "outside the build context") {
				t.Errorf("the error does not say the source leads outside the context: %v", msg)
			}
			// What is in the host dir is nobody's business: the message
			// names the context's symlink, never an entry found outside.
			rest := msg
			if i := strings.Index(rest, "Dockerfile:2: "); i >= 0 {
				rest = rest[i:] // the temp dir's name holds the test's
			}
			rest = strings.ReplaceAll(rest, host, "HOST")
			rest = strings.ReplaceAll(rest, strings.SplitN(tc.df, " ", 3)[1], "ARG")
			for _, n := range hostNames {
				if strings.Contains(rest, n) {
					t.Errorf("the error names %q, an entry outside the context: %v", n, msg)
				}
			}
		})
	}
}

// A directory of the context swapped for a symlink after it was listed
// (the context changing during the build) is never followed: the walk
// fails rather than list and read the host dir.
func TestContextWalkNeverFollowsASwappedDir(t *testing.T) {
	host, snap := hostDir(t)
	before := snap()
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{"d/a": "A", "d/sub/b": "B"})
	cs, err := newContextSource(ctxDir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	err = cs.walk("/d", func(rel string, info fs.FileInfo, h string) error {
		seen = append(seen, rel)
		if rel == "a" {
			// The race, made deterministic: sub is now a link to the host.
			sub := filepath.Join(ctxDir, "d", "sub")
			if err := os.RemoveAll(sub); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(host, sub); err != nil {
				t.Fatal(err)
			}
		}
		if !strings.HasPrefix(h, cs.root+"/") {
			t.Errorf("walk gave %s, a host path outside the context %s", h, cs.root)
		}
		return nil
	})
	for _, s := range seen {
		if strings.Contains(s, "pwned") || strings.Contains(s, ".docker") || strings.Contains(s, "cron") {
			t.Fatalf("the walk listed the host dir through the swapped link: %v", seen)
		}
	}
	if err == nil {
		t.Fatalf("the walk went on through a directory that became a symlink: %v", seen)
	}
	if after := snap(); after != before {
		t.Fatalf("the host dir changed")
	}
}

// A file checked by stat and then swapped (its parent now a link to the
// host) is opened beneath the context: the open fails.
func TestContextOpenAfterSwap(t *testing.T) {
	host, _ := hostDir(t)
	ctxDir := t.TempDir()
	writeTree(t, ctxDir, map[string]string{"d/pwned": "context's", "d/l": "->pwned"})
	cs, err := newContextSource(ctxDir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.close()
	_, h, err := cs.stat("/d/pwned", true)
	if err != nil {
		t.Fatal(err)
	}
	_, hl, err := cs.stat("/d/l", false)
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(ctxDir, "d")
	if err := os.RemoveAll(d); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, d); err != nil {
		t.Fatal(err)
	}
	if f, err := cs.open(h); err == nil {
		b := make([]byte, 100)
		n, _ := f.Read(b)
		f.Close()
		t.Fatalf("opened %s through the swapped link: read %q", h, b[:n])
	} else if !errors.Is(err, beneath.ErrSymlink) {
		t.Logf("refused with: %v", err)
	}
	if target, err := cs.readlink(hl); err == nil {
		t.Fatalf("read a link through the swapped link: %q", target)
	}
}
