#!/usr/bin/env bash
# bench/cacheshare.sh: a fresh --root building bench/run.sh's scenarios (A: 20
# steps, B: COPY of 5,000 files) cold, and with --cache-from a registry cache
# another root exported (--cache-to ...,mode=max): every step a hit. Two
# outputs for the cached build: a push to the same registry (no layer needs
# to come here) and the local store only (the image must be whole here).
# Prints medians of N runs (seconds), the ratios to cold, and the layer bytes
# strata downloaded; BuildKit's registry cache import downloads every layer
# of the cache it uses, which is the "local" figure in both cases.
#
# Needs root, go, docker-registry (Debian's), busybox-static, bc.
set -Eeuo pipefail
N=${N:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
BENCH=$HERE
BUSYBOX=$(command -v busybox)
REGPID=""
cleanup() {
	[ -n "$REGPID" ] && kill "$REGPID" 2>/dev/null && wait "$REGPID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
# The contexts are run.sh's, made by its own functions.
# shellcheck disable=SC1090
source <(sed -n '/^make_rootfs() {/,/^}/p; /^text() /p; /^make_ctx_a() {/,/^}/p; /^make_ctx_b() {/,/^}/p' "$HERE/run.sh")

S=$WORK/strata
(cd "$HERE/.." && go build -o "$S" .)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$WORK/storage" "$REG" >"$WORK/reg.yml"
docker-registry serve "$WORK/reg.yml" >"$WORK/reg.log" 2>&1 &
REGPID=$!
for _ in $(seq 50); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done

make_rootfs "$WORK/rootfs.tar"
timed() {
	local s
	s=$(date +%s.%N)
	"$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log"; exit 1; }
	echo "$(date +%s.%N) - $s" | bc
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for sc in A B; do
	c=$WORK/ctx-$sc
	mkdir -p "$c"
	"make_ctx_${sc,,}" "$c"
	ref=$REG/bench-${sc,,}:cache
	"$S" build --root "$WORK/exporter" --cache-to "type=registry,ref=$ref,mode=max" "$c" >"$WORK/export.log" 2>&1
	cold=() push=() local=()
	for _ in $(seq "$N"); do
		rm -rf "$WORK/r"
		cold+=("$(timed "$S" build --root "$WORK/r" "$c")")
		rm -rf "$WORK/r"
		push+=("$(timed "$S" build --root "$WORK/r" --cache-from "type=registry,ref=$ref" -t "$REG/bench-${sc,,}:out" -o type=registry "$c")")
		pushlog=$(cat "$WORK/last.log")
		rm -rf "$WORK/r"
		local+=("$(timed "$S" build --root "$WORK/r" --cache-from "type=registry,ref=$ref" -t x:1 "$c")")
		locallog=$(cat "$WORK/last.log")
		rm -rf "$WORK/r"
	done
	steps=$(grep -c '^Step ' <<<"$pushlog")
	for log in "$pushlog" "$locallog"; do
		[ "$(grep -c ' ---> Using cache' <<<"$log")" -eq "$steps" ] || { echo "not every step was a hit:" >&2; echo "$log" >&2; exit 1; }
	done
	c0=$(median "${cold[@]}") p=$(median "${push[@]}") l=$(median "${local[@]}")
	echo "scenario $sc ($steps steps): cold ${c0}s; --cache-from, push ${p}s ($(ratio "$p" "$c0")x); --cache-from, local ${l}s ($(ratio "$l" "$c0")x)"
	echo "  downloaded: push: $(grep -o 'shared cache: .* downloaded ([0-9]* layers*)' <<<"$pushlog" || echo 'nothing'); local: $(grep -o 'shared cache: .* downloaded ([0-9]* layers*)' <<<"$locallog" || echo 'nothing')"
done
