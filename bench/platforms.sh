#!/usr/bin/env bash
# bench/platforms.sh: what a multi-platform build costs (issue 18).
#
#   emulation  the same RUN for linux/amd64 (native) and linux/arm64 (under
#              QEMU through binfmt_misc), --no-cache, N times each,
#              interleaved; the RUN step's time from --report; medians and
#              the ratio emulated/native.
#   platforms  a cold --platform linux/amd64,linux/arm64 build against two
#              cold one-platform builds (amd64, then arm64, one state
#              folder), N times, interleaved; medians and the ratio.
#   cross      the same for a cross-compiling Dockerfile: a heavy builder
#              stage FROM --platform=$BUILDPLATFORM, a light final stage.
#
# The RUN: a shell loop (CPU in the interpreter), gzip of 32 MB and 200
# process starts, in a busybox rootfs of the target architecture (Debian's
# busybox-static; the arm64 one from /var/cache/strata-test, where .ci/run
# puts it). Needs root, go, jq, busybox-static, qemu-user-static with its
# binfmt handlers. Everything lives in one temp dir, removed on exit.
set -Eeuo pipefail
export LC_ALL=C
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

N=3
while [ $# -gt 0 ]; do
	case "$1" in
	-n) N=$2; shift 2 ;;
	-h | --help) echo "usage: bench/platforms.sh [-n N]"; exit 0 ;;
	*) echo "bench: unknown argument $1 (bench/platforms.sh -h)" >&2; exit 1 ;;
	esac
done
die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root: sudo bench/platforms.sh"
[ "$(uname -m)" = x86_64 ] || die "measures arm64 emulated on an x86_64 host; this is $(uname -m)"
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || die "no qemu-aarch64 binfmt handler with the F flag: apt-get install qemu-user-static binfmt-support"
DEB=/var/cache/strata-test/busybox-static_arm64.deb
[ -s "$DEB" ] || die "no $DEB: dpkg --add-architecture arm64 && apt-get update && apt-get download busybox-static:arm64 (then move it there)"

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/strata-bench-platforms.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
(cd "$REPO" && go build -o "$WORK/strata" .)
S=$WORK/strata

# rootfs ARCH BUSYBOX: a busybox rootfs tar for ARCH in the context.
rootfs() {
	local r=$WORK/rootfs-$1 a
	mkdir -p "$r"/{bin,etc,tmp,root}
	chmod 1777 "$r/tmp"
	cp "$2" "$r/bin/busybox"
	for a in $("$2" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	tar --sort=name --numeric-owner --mtime=@1704067200 -C "$r" -cf "$WORK/ctx/rootfs-$1.tar" .
	rm -rf "$r"
}
mkdir -p "$WORK/ctx" "$WORK/deb"
dpkg-deb -x "$DEB" "$WORK/deb"
rootfs amd64 /bin/busybox
rootfs arm64 "$WORK/deb/bin/busybox"
cat >"$WORK/ctx/Dockerfile" <<'DF'
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar /
RUN i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; head -c 33554432 /dev/zero | gzip -c | wc -c; for i in $(seq 200); do true; done
DF

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

echo "== emulation: the same RUN, native vs emulated (--no-cache, N=$N)"
: >"$WORK/native" ; : >"$WORK/emulated"
for i in $(seq "$N"); do
	for p in amd64 arm64; do
		"$S" --root "$WORK/root-emu" build --no-cache --platform "linux/$p" --report "$WORK/r.json" "$WORK/ctx" >/dev/null
		t=$(jq '[.steps[] | select(.instruction | startswith("RUN")) | .duration_seconds] | add' "$WORK/r.json")
		[ "$p" = amd64 ] && echo "$t" >>"$WORK/native" || echo "$t" >>"$WORK/emulated"
		echo "  run $i linux/$p: RUN ${t}s"
	done
done
nat=$(median <"$WORK/native"); emu=$(median <"$WORK/emulated")
echo "RUN median: native ${nat}s, emulated ${emu}s, ratio $(awk -v a="$emu" -v b="$nat" 'BEGIN {printf "%.1f", a/b}')x"

# cross: the cross-compiling pattern: a heavy builder stage FROM
# --platform=$BUILDPLATFORM (native, once for every platform) and a light
# final stage per platform.
mkdir -p "$WORK/cross"
cp "$WORK/ctx/"rootfs-*.tar "$WORK/cross/"
cat >"$WORK/cross/Dockerfile" <<'DF'
FROM --platform=$BUILDPLATFORM scratch AS builder
ARG BUILDARCH
ADD rootfs-${BUILDARCH}.tar /
RUN i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; head -c 67108864 /dev/zero | gzip -c > /out.gz
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar /
COPY --from=builder /out.gz /out.gz
RUN wc -c /out.gz > /size
DF

# compare NAME CTX: cold two-platform builds against two cold one-platform
# builds on one state folder (the second finds what the first built that
# it can use, as two builds on one machine would).
compare() {
	local name=$1 ctx=$2 i t0 t1 t2 t3 two sum
	echo "== $name: cold two-platform build vs two cold one-platform builds, one state folder (N=$N)"
	: >"$WORK/two"; : >"$WORK/sum"
	for i in $(seq "$N"); do
		rm -rf "$WORK/root-a"
		t0=$(now)
		"$S" --root "$WORK/root-a" build --platform linux/amd64,linux/arm64 "$ctx" >/dev/null
		t1=$(now)
		rm -rf "$WORK/root-a"
		t2=$(now)
		"$S" --root "$WORK/root-a" build --platform linux/amd64 "$ctx" >/dev/null
		"$S" --root "$WORK/root-a" build --platform linux/arm64 "$ctx" >/dev/null
		t3=$(now)
		rm -rf "$WORK/root-a"
		two=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}'); sum=$(awk -v a="$t2" -v b="$t3" 'BEGIN {print b-a}')
		echo "$two" >>"$WORK/two"; echo "$sum" >>"$WORK/sum"
		echo "  run $i: two-platform ${two}s, two one-platform builds ${sum}s"
	done
	two=$(median <"$WORK/two"); sum=$(median <"$WORK/sum")
	echo "$name median: two-platform ${two}s, two one-platform builds ${sum}s, ratio $(awk -v a="$two" -v b="$sum" 'BEGIN {printf "%.2f", a/b}')"
}
compare platforms "$WORK/ctx"
compare cross "$WORK/cross"
