// Package platforms is strata's one way to name and compare image
// platforms (os/arch[/variant]): the build's target, the host, the image
// an OCI index or a registry index offers, the platform an image config
// says. It normalises as containerd's platforms package does: arm64 is
// arm64/v8 and arm is arm/v7 when no variant is written, and the
// architecture aliases (aarch64, x86_64, armhf…) are the names Go uses.
//
// One difference from containerd: strata writes arm64's variant v8 out
// (Host, Parse), as it always has in image configs; comparisons treat
// arm64 and arm64/v8 as the same platform. The build args
// (TARGETPLATFORM, TARGETVARIANT, BUILD...) are BuildKit's: Format and
// ArgVariant leave arm64's v8 out, as containerd's Normalize does.
package platforms

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Host is the platform strata builds for by default: linux on this
// machine's architecture, with arm's default variant.
func Host() v1.Platform {
	return Normalize(v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
}

// Parse reads os/arch[/variant] (e.g. linux/amd64, linux/arm/v7) and
// normalises it.
func Parse(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || len(parts) == 3 && parts[2] == "" {
		return v1.Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return Normalize(p), nil
}

// String is os/arch[/variant].
func String(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Normalize lower-cases p, maps architecture aliases to Go's names
// (containerd's normalizeArch) and gives arm and arm64 their default
// variant when none is written.
func Normalize(p v1.Platform) v1.Platform {
	p.OS = strings.ToLower(p.OS)
	p.Architecture, p.Variant = strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	switch p.Architecture {
	case "i386":
		p.Architecture, p.Variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		p.Architecture = "amd64"
		if p.Variant == "v1" {
			p.Variant = ""
		}
	case "aarch64", "arm64":
		p.Architecture = "arm64"
		if p.Variant == "8" {
			p.Variant = "v8"
		}
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	case "arm":
		switch p.Variant {
		case "5", "6", "7", "8":
			p.Variant = "v" + p.Variant
		}
	}
	p.Variant = variant(p.Architecture, p.Variant)
	return p
}

// variant is v, or arch's default variant when v is "".
func variant(arch, v string) string {
	if v != "" {
		return v
	}
	switch arch {
	case "arm64":
		return "v8"
	case "arm":
		return "v7"
	}
	return ""
}

// Same reports whether a and b name one platform once normalised
// (linux/arm64 and linux/arm64/v8 do).
func Same(a, b v1.Platform) bool {
	a, b = Normalize(a), Normalize(b)
	return a.OS == b.OS && a.Architecture == b.Architecture && a.Variant == b.Variant
}

// Fits reports whether an image whose config says have serves a build
// for want: an image that says no OS or architecture fits any; else the
// OS and architecture must be want's and the variant too, unless either
// config leaves it out (an arm64 image without a variant fits arm64/v8).
func Fits(have, want v1.Platform) bool {
	if have.OS == "" || have.Architecture == "" {
		return true
	}
	if have.Variant == "" || want.Variant == "" {
		h, w := Normalize(have), Normalize(want)
		return h.OS == w.OS && h.Architecture == w.Architecture
	}
	return Same(have, want)
}

// Pick is the index in offered (an image index's platforms; nil entries
// are skipped) of the image for want: the first that is the same platform
// once normalised; else, when want names no variant, the first of its OS
// and architecture; else -1.
func Pick(offered []*v1.Platform, want v1.Platform) int {
	loose := -1
	for i, p := range offered {
		if p == nil {
			continue
		}
		if Same(*p, want) {
			return i
		}
		if want.Variant == "" && loose < 0 && Fits(*p, want) && p.OS != "" && p.Architecture != "" {
			loose = i
		}
	}
	return loose
}

// Of is the os/arch/variant an image config says (as written, not
// normalised).
func Of(cfg *v1.ConfigFile) v1.Platform {
	return v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
}

// ParseList reads --platform's comma-separated list (linux/amd64,linux/arm64)
// as docker buildx does: each entry normalised, a platform named twice kept
// once, in the order given. An empty entry is an error.
func ParseList(s string) ([]v1.Platform, error) {
	var out []v1.Platform
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("invalid platform list %q: an entry is empty; want os/arch[/variant][,os/arch...], e.g. linux/amd64,linux/arm64", s)
		}
		p, err := Parse(f)
		if err != nil {
			return nil, err
		}
		dup := false
		for _, q := range out {
			dup = dup || Same(p, q)
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out, nil
}

// Native reports whether this machine runs p's programs itself: the
// host's OS and architecture. Another architecture needs an emulator.
func Native(p v1.Platform) bool {
	h, n := Host(), Normalize(p)
	return n.OS == h.OS && n.Architecture == h.Architecture
}

// QEMUArch is the name QEMU's user-mode emulator and its binfmt_misc
// handler (qemu-<name>) use for p's architecture (what uname -m says under
// it), or "" for an architecture QEMU has no user-mode emulator for.
func QEMUArch(p v1.Platform) string {
	switch n := Normalize(p); n.Architecture {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "arm":
		return "arm"
	case "386":
		return "i386"
	case "loong64":
		return "loongarch64"
	case "ppc64le", "ppc64", "s390x", "riscv64", "mips64", "mips64el", "mips", "mipsel":
		return n.Architecture
	case "mips64le":
		return "mips64el"
	case "mipsle":
		return "mipsel"
	}
	return ""
}

// ArgVariant is p's variant as BuildKit's TARGETVARIANT/BUILDVARIANT say
// it: arm64's only variant, v8, is "" (containerd's Normalize drops it).
func ArgVariant(p v1.Platform) string {
	n := Normalize(p)
	if n.Architecture == "arm64" && n.Variant == "v8" {
		return ""
	}
	return n.Variant
}

// Format is p as BuildKit's TARGETPLATFORM/BUILDPLATFORM say it:
// os/arch[/variant] with ArgVariant (linux/arm64, not linux/arm64/v8).
func Format(p v1.Platform) string {
	n := Normalize(p)
	n.Variant = ArgVariant(n)
	return String(n)
}
