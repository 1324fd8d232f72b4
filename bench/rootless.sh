#!/usr/bin/env bash
# bench/rootless.sh: strata as root against strata as a normal user
# (rootless: a user namespace with the user's subordinate ids), on the same
# contexts, in one run, interleaved (root, user, root, user, ...) so that
# the machine's load falls on both alike.
#
# Scenarios:
#   example   strata example's context (FROM scratch, ADD rootfs.tar, a RUN, ...)
#   copy5000  bench/copy5000: COPY of 5,000 files (~50 MB) + a RUN counting them
# Each is a cold build (empty state folder) N times per side; the medians
# and the ratio rootless/root are printed. A rootless strata records no
# processes of a RUN (the kernel's process events go to the host's root
# only): STRATA_NO_PROCESS_TRACE=1 turns it off for root too, for a like
# for like comparison.
#
# Needs root (to drop to the user with setpriv), go, busybox-static, uidmap
# and the user (default strata-rootless, which .ci/run creates with a
# subordinate id range). Everything lives in one temp dir, removed on exit.
set -Eeuo pipefail
export LC_ALL=C
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

N=5
USERNAME=strata-rootless
while [ $# -gt 0 ]; do
	case "$1" in
	-n) N=$2; shift 2 ;;
	--user) USERNAME=$2; shift 2 ;;
	-h | --help) echo "usage: bench/rootless.sh [-n N] [--user NAME]"; exit 0 ;;
	*) echo "bench: unknown argument $1 (bench/rootless.sh -h)" >&2; exit 1 ;;
	esac
done
die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root, to run strata as $USERNAME too: sudo bench/rootless.sh"
id "$USERNAME" >/dev/null 2>&1 || die "no user $USERNAME: .ci/run creates it (or --user NAME, a user with a /etc/subuid range)"
grep -q "^$USERNAME:" /etc/subuid || die "$USERNAME has no range in /etc/subuid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USERNAME)"
UID_=$(id -u "$USERNAME")
GID_=$(id -g "$USERNAME")
HOME_=$(getent passwd "$USERNAME" | cut -d: -f6)

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH")
WORK=$(mktemp -d -t strata-rlbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"
(cd "$REPO" && go build -o "$WORK/strata" .) || die "go build failed"
S=$WORK/strata

# contexts, readable by both
"$S" example --root "$WORK/gen" --dir "$WORK/ctx-example" --progress plain >/dev/null 2>&1 ||
	die "strata example could not write its context"
mkdir -p "$WORK/ctx-copy5000"
cp "$BENCH/copy5000/Dockerfile" "$WORK/ctx-example/rootfs.tar" "$WORK/ctx-copy5000/"
text() { { head -c $(($1 * 3 / 4 + 100)) /dev/urandom | base64 -w 100 || true; } | head -c "$1"; }
for i in $(seq -w 0 49); do
	d=$WORK/ctx-copy5000/files/d$i
	mkdir -p "$d"
	text $((60 * 2048)) | split -b 2048 -a 2 -d - "$d/t2k_"
	head -c $((30 * 16384)) /dev/urandom | split -b 16384 -a 2 -d - "$d/b16k_"
	text $((9 * 32768)) | split -b 32768 -a 2 -d - "$d/t32k_"
	head -c 131072 /dev/urandom >"$d/b128k_00"
done
chmod -R a+rX "$WORK"
mkdir -p "$WORK/user"
chown "$UID_:$GID_" "$WORK/user"

# one cold build (a fresh state folder), its wall time in ELAPSED. The
# state folders are removed only when the scenario is done: on this VM's
# ext4, creating files right after deleting thousands is several times
# slower, which would tax the next build for the last one's cleanup.
ELAPSED=0
cold() {
	local who=$1 ctx=$2 i=$3 root t0 t1 ctx_name
	ctx_name=$(basename "$ctx")
	if [ "$who" = root ]; then
		root=$WORK/root-$ctx_name-$i
		sync
		t0=$EPOCHREALTIME
		"$S" build --root "$root" --progress plain "$ctx" >"$WORK/log" 2>&1 || { tail "$WORK/log"; die "root build failed"; }
		t1=$EPOCHREALTIME
	else
		root=$WORK/user/s-$ctx_name-$i
		sync
		t0=$EPOCHREALTIME
		setpriv --reuid "$UID_" --regid "$GID_" --init-groups -- env -i HOME="$HOME_" PATH=/usr/sbin:/usr/bin:/sbin:/bin ${STRATA_NO_PROCESS_TRACE:+STRATA_NO_PROCESS_TRACE=$STRATA_NO_PROCESS_TRACE} \
			"$S" build --root "$root" --progress plain "$ctx" >"$WORK/log" 2>&1 || { tail "$WORK/log"; die "rootless build failed"; }
		t1=$EPOCHREALTIME
	fi
	grep -q '^Successfully built' "$WORK/log" || die "$who: no Successfully built line"
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "strata $(cd "$REPO" && git describe --always --dirty), $N cold builds per side, interleaved; load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
printf '%-10s %10s %10s %8s\n' scenario root rootless ratio
for sc in example copy5000; do
	r=() u=()
	for i in $(seq 1 "$N"); do
		cold root "$WORK/ctx-$sc" "$i"
		r+=("$ELAPSED")
		cold user "$WORK/ctx-$sc" "$i"
		u+=("$ELAPSED")
	done
	rm -rf "$WORK"/root-* "$WORK"/user/s-*
	mr=$(median "${r[@]}")
	mu=$(median "${u[@]}")
	printf '%-10s %9ss %9ss %7sx   (root: %s; rootless: %s)\n' "$sc" "$mr" "$mu" "$(awk -v a="$mu" -v b="$mr" 'BEGIN { printf "%.2f", a / b }')" "${r[*]}" "${u[*]}"
done
