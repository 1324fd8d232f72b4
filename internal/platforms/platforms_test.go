package platforms

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func p(os, arch, variant string) v1.Platform {
	return v1.Platform{OS: os, Architecture: arch, Variant: variant}
}

func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"linux/amd64", "linux/amd64", ""},
		{"linux/arm64", "linux/arm64/v8", ""},
		{"linux/arm64/v8", "linux/arm64/v8", ""},
		{"linux/aarch64", "linux/arm64/v8", ""},
		{"linux/arm", "linux/arm/v7", ""},
		{"linux/arm/v6", "linux/arm/v6", ""},
		{"linux/arm/7", "linux/arm/v7", ""},
		{"linux/armhf", "linux/arm/v7", ""},
		{"linux/armel", "linux/arm/v6", ""},
		{"Linux/X86_64", "linux/amd64", ""},
		{"linux/i386", "linux/386", ""},
		{"linux/riscv64", "linux/riscv64", ""},
		{"linux", "", "want os/arch[/variant]"},
		{"linux/", "", "want os/arch[/variant]"},
		{"/amd64", "", "want os/arch[/variant]"},
		{"linux/arm64/", "", "want os/arch[/variant]"},
		{"a/b/c/d", "", "want os/arch[/variant]"},
	} {
		got, err := Parse(c.in)
		if c.err != "" {
			if err == nil {
				t.Errorf("Parse(%q) = %s, want an error", c.in, String(got))
			}
			continue
		}
		if err != nil || String(got) != c.want {
			t.Errorf("Parse(%q) = %s, %v; want %s", c.in, String(got), err, c.want)
		}
	}
}

func TestSameFitsPick(t *testing.T) {
	arm64, arm64v8 := p("linux", "arm64", ""), p("linux", "arm64", "v8")
	for _, c := range []struct {
		a, b       v1.Platform
		same, fits bool // fits: an image of a serves a build for b
	}{
		{arm64, arm64v8, true, true}, // the arm64-without-variant case
		{arm64v8, arm64, true, true},
		{p("linux", "arm", ""), p("linux", "arm", "v7"), true, true},
		{p("linux", "arm", "v6"), p("linux", "arm", "v7"), false, false},
		{p("linux", "arm", "v6"), p("linux", "arm", ""), false, true}, // the image says v6, the build asks any arm
		{p("linux", "amd64", ""), p("linux", "arm64", "v8"), false, false},
		{p("linux", "amd64", ""), p("windows", "amd64", ""), false, false},
		{p("", "", ""), p("linux", "s390x", ""), false, true}, // an image that does not say fits any
		{p("linux", "aarch64", ""), arm64v8, true, true},
	} {
		if got := Same(c.a, c.b); got != c.same {
			t.Errorf("Same(%s, %s) = %v", String(c.a), String(c.b), got)
		}
		if got := Fits(c.a, c.b); got != c.fits {
			t.Errorf("Fits(%s, %s) = %v", String(c.a), String(c.b), got)
		}
	}
	offered := []*v1.Platform{nil, {OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm", Variant: "v6"}, {OS: "linux", Architecture: "arm", Variant: "v7"}}
	for _, c := range []struct {
		want v1.Platform
		i    int
	}{
		{arm64v8, 2}, // an index whose arm64 entry has no variant serves an arm64 host
		{arm64, 2},
		{p("linux", "arm", "v7"), 4},
		{p("linux", "arm", ""), 4}, // arm means arm/v7
		{p("linux", "arm", "v5"), -1},
		{p("linux", "amd64", ""), 1},
		{p("linux", "amd64", "v2"), -1},
		{p("linux", "s390x", ""), -1},
	} {
		if got := Pick(offered, c.want); got != c.i {
			t.Errorf("Pick(%s) = %d, want %d", String(c.want), got, c.i)
		}
	}
	if got := Pick([]*v1.Platform{{OS: "linux", Architecture: "amd64", Variant: "v3"}}, p("linux", "amd64", "")); got != 0 {
		t.Errorf("Pick(linux/amd64) of [linux/amd64/v3] = %d, want 0 (no variant asked: any)", got)
	}
}

func TestHost(t *testing.T) {
	h := Host()
	if n := Normalize(h); h.OS != "linux" || String(h) != String(n) {
		t.Errorf("Host() = %+v, not normalised", h)
	}
}
