package build

import (
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
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
