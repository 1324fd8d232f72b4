package build

import (
	"strings"
	"testing"

	"github.com/strata-build/strata/build/frontend"
)

// TestRunNetwork: each RUN's network as BuildKit decides it. No flag and
// --network=default are the build's --network (default: the private
// network); none always may; host needs the network.host entitlement
// (--allow network.host, or the build's --network host): a Dockerfile
// alone cannot take the host's network.
func TestRunNetwork(t *testing.T) {
	df := "FROM scratch\nRUN a\nRUN --network=default b\nRUN --network=none c\n"
	for _, tc := range []struct {
		buildNet string
		allow    bool
		host     bool   // the Dockerfile has RUN --network=host too
		want     string // networks of the RUNs, or the error
	}{
		{"", false, false, "default default none"},
		{"default", false, false, "default default none"},
		{"none", false, false, "none none none"},
		{"host", false, false, "host host none"},
		{"", false, true, "RUN --network=host: network.host is not allowed"},
		{"none", false, true, "RUN --network=host: network.host is not allowed"},
		{"", true, true, "default default none host"},
		{"host", false, true, "host host none host"},
	} {
		d := df
		if tc.host {
			d += "RUN --network=host d\n"
		}
		ctxDir := t.TempDir()
		writeTree(t, ctxDir, map[string]string{"Dockerfile": d})
		fr := &fakeRunner{}
		r := buildIn(t, newStore(t), frontend.Options{ContextDir: ctxDir, Network: tc.buildNet, AllowNetworkHost: tc.allow}, fr)
		var got []string
		for _, req := range fr.reqs {
			got = append(got, req.Network)
		}
		if r.err != nil {
			if !strings.Contains(r.err.Error(), tc.want) || !strings.Contains(r.err.Error(), "--allow network.host") {
				t.Errorf("--network %q allow %v host %v: %v, want %q naming --allow network.host", tc.buildNet, tc.allow, tc.host, r.err, tc.want)
			}
			if len(got) != 3 {
				t.Errorf("--network %q host RUN refused after %d RUNs, want 3 run and the 4th refused", tc.buildNet, len(got))
			}
			continue
		}
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("--network %q allow %v host %v: RUN networks %q, want %q", tc.buildNet, tc.allow, tc.host, s, tc.want)
		}
	}
}
