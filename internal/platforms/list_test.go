package platforms

import (
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"linux/amd64", "linux/amd64", ""},
		{"linux/amd64,linux/arm64", "linux/amd64 linux/arm64/v8", ""},
		{" linux/amd64 , linux/aarch64 ", "linux/amd64 linux/arm64/v8", ""},
		{"linux/arm64,linux/arm64/v8,linux/amd64", "linux/arm64/v8 linux/amd64", ""},
		{"linux/amd64,", "", "an entry is empty"},
		{",linux/amd64", "", "an entry is empty"},
		{"linux/amd64,linux", "", "want os/arch[/variant]"},
	} {
		got, err := ParseList(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseList(%q) error = %v, want one saying %q", c.in, err, c.err)
			}
			continue
		}
		var names []string
		for _, p := range got {
			names = append(names, String(p))
		}
		if err != nil || strings.Join(names, " ") != c.want {
			t.Errorf("ParseList(%q) = %v, %v; want %s", c.in, names, err, c.want)
		}
	}
}

func TestQEMUArch(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64": "x86_64", "linux/arm64": "aarch64", "linux/arm/v7": "arm", "linux/386": "i386",
		"linux/riscv64": "riscv64", "linux/ppc64le": "ppc64le", "linux/s390x": "s390x", "linux/mips64le": "mips64el",
		"linux/wasm": "",
	} {
		p, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := QEMUArch(p); got != want {
			t.Errorf("QEMUArch(%s) = %q, want %q", in, got, want)
		}
	}
	if !Native(Host()) {
		t.Errorf("Native(Host()) = false")
	}
	other := Host()
	if other.Architecture == "arm64" {
		other.Architecture, other.Variant = "amd64", ""
	} else {
		other.Architecture, other.Variant = "arm64", "v8"
	}
	if Native(other) {
		t.Errorf("Native(%s) = true on %s", String(other), String(Host()))
	}
}
