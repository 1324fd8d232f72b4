#!/usr/bin/env bash
# bench/run.sh: strata against Docker's BuildKit (and buildah, when
# installed) on the same Dockerfiles, in one run.
#
# Scenarios (Dockerfiles under bench/, contexts generated into a temp dir):
#   A  bench/20steps     20 steps: 8 RUN, 6 COPY of small files, 6 others
#   B  bench/copy5000    COPY of 5,000 files (~50 MB, four size classes) + a RUN counting them
#   C  bench/run30mb     a RUN writing 30 MB in 1,700 files
#   D  bench/multistage  two independent builder stages and a final one
#   E  bench/copy100k    COPY of 100,000 small files + a RUN counting them
# Phases, per scenario and tool: cold build (empty storage), no-change
# rebuild, one-file-change rebuild (one context file gets new content).
# Each is run N times; the median is printed, with the ratios
# strata/BuildKit and strata/buildah. Every build's output is checked for
# the number of cache hits it must have, so a broken cache cannot pass for
# a fast one.
#
# BuildKit is Docker's (docker.io, DOCKER_BUILDKIT=1 docker build): the
# script starts a private dockerd per cold build, with its own
# --data-root, --exec-root, pidfile and socket in the temp dir (no bridge,
# no iptables: RUN uses --network host), and stops it when done. The base
# is the same for every tool: FROM scratch + ADD of a busybox rootfs tar.
#
# Needs root, go, a static busybox (apt-get install busybox-static),
# docker.io for BuildKit and optionally buildah. Everything it makes (the
# strata binary, contexts, strata roots, dockerd and buildah storage)
# lives in one temp dir, removed on exit unless --keep. Old stores are
# moved aside and deleted after each scenario, for every tool alike.
set -Eeuo pipefail
export LC_ALL=C
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

usage() {
	cat <<'EOF'
usage: bench/run.sh [-n N] [--quick] [--only A,B,C,D,E] [--keep] [--no-buildkit]
                    [--buildah-isolation oci|chroot] [--buildah-driver overlay|vfs] [--strata BIN]

  -n N                 runs per measurement, the median is reported (default 5)
  --quick              one run per measurement (-n 1): a rough look, not a result
  --only LIST          run these scenarios (comma-separated): A (20 steps), B (COPY
                       of 5,000 files), C (RUN writing 30 MB), D (multi-stage),
                       E (COPY of 100,000 files)
  --no-buildkit        leave Docker's BuildKit out
  --keep               keep the temp dir (logs, contexts, stores) and print its path
  --buildah-isolation  oci (default: runc, a namespaced container like strata's
                       RUN) or chroot (buildah's lighter isolation)
  --buildah-driver     buildah's storage driver (default: overlay, or vfs when
                       overlay does not work here)
  --strata BIN         measure this strata binary instead of building the repo's
EOF
}

die() {
	echo "bench: $*" >&2
	exit 1
}

N=5
ONLY=""
NO_BUILDKIT=0
KEEP=0
ISOLATION=""
STRATA_BIN=""
DRIVER=""
while [ $# -gt 0 ]; do
	case "$1" in
	-n)
		[ $# -ge 2 ] || die "-n needs a number of runs, e.g. -n 5"
		N=$2
		shift 2
		;;
	-n*) N=${1#-n}; shift ;;
	--quick) N=1; shift ;;
	--no-buildkit) NO_BUILDKIT=1; shift ;;
	--only)
		[ $# -ge 2 ] || die "--only needs scenarios, e.g. --only A,C"
		ONLY=$2
		shift 2
		;;
	--only=*) ONLY=${1#--only=}; shift ;;
	--keep) KEEP=1; shift ;;
	--buildah-driver)
		[ $# -ge 2 ] || die "--buildah-driver needs overlay or vfs"
		DRIVER=$2
		shift 2
		;;
	--buildah-driver=*) DRIVER=${1#--buildah-driver=}; shift ;;
	--strata)
		[ $# -ge 2 ] || die "--strata needs a path to a strata binary"
		STRATA_BIN=$2
		shift 2
		;;
	--strata=*) STRATA_BIN=${1#--strata=}; shift ;;
	--buildah-isolation)
		[ $# -ge 2 ] || die "--buildah-isolation needs oci or chroot"
		ISOLATION=$2
		shift 2
		;;
	--buildah-isolation=*) ISOLATION=${1#--buildah-isolation=}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument $1" ;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "-n $N: want a positive number of runs, e.g. -n 3"
SCENARIOS=()
if [ -z "$ONLY" ]; then
	SCENARIOS=(A B C D E)
else
	IFS=', ' read -r -a only <<<"${ONLY^^}"
	for sc in "${only[@]}"; do
		case "$sc" in
		A | B | C | D | E) SCENARIOS+=("$sc") ;;
		*) die "--only $ONLY: want scenarios among A, B, C, D, E (e.g. --only A,C)" ;;
		esac
	done
fi
case "$ISOLATION" in
"" | oci | chroot) ;;
*) die "--buildah-isolation $ISOLATION: want oci or chroot" ;;
esac
case "$DRIVER" in
"" | overlay | vfs) ;;
*) die "--buildah-driver $DRIVER: want overlay or vfs" ;;
esac

[ "$(id -u)" -eq 0 ] || die "needs root (strata's RUN sandbox and buildah's storage mount overlays): sudo bench/run.sh"
[ -n "$STRATA_BIN" ] || command -v go >/dev/null || die "needs go to build strata (or pass --strata BIN)"
command -v findmnt >/dev/null || die "needs findmnt (util-linux)"
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! grep -aq 'ld-linux' < <(head -c 4096 "$b"); then
		BUSYBOX=$b
		break
	fi
done
[ -n "$BUSYBOX" ] || die "needs a static busybox for the base image: apt-get install busybox-static"

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH")

WORK=$(mktemp -d -t strata-bench.XXXXXX)
BH_DIRS=()

# umount_under unmounts everything mounted below $1, deepest first.
umount_under() {
	local m
	findmnt -rn -o TARGET | awk -v p="$1/" 'index($0, p) == 1' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "bench: could not unmount $m" >&2
	done
}

# bh runs buildah on the storage in $BH_DIR (its own --root and --runroot).
BH_DIR=""
BH_DRIVER=""
BH_FLAGS=()
bh() {
	TMPDIR="$WORK/tmp" buildah --root "$BH_DIR/root" --runroot "$BH_DIR/runroot" --storage-driver "$BH_DRIVER" "$@"
}

# bh_destroy removes a buildah storage: its containers, images and mounts;
# with keep=1 the images stay (for --keep) but nothing stays mounted.
bh_destroy() {
	local dir=$1 keep=${2:-0}
	[ -d "$dir/root" ] || return 0
	BH_DIR=$dir bh rm -a >/dev/null 2>&1 || true
	if [ "$keep" -eq 0 ]; then
		BH_DIR=$dir bh rmi -a -f >/dev/null 2>&1 || true
	fi
	umount_under "$dir"
	if [ "$keep" -eq 0 ]; then
		rm -rf "$dir"
	fi
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	local d
	for d in "${BH_DIRS[@]}"; do
		bh_destroy "$d" "$KEEP"
	done
	! declare -F dk_stop >/dev/null || dk_stop # (defined below: a failure may come first)
	umount_under "$WORK"
	if [ "$KEEP" -eq 1 ]; then
		echo "bench: kept $WORK (logs in $WORK/logs)" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK/tmp" "$WORK/logs"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD_START%% *}" -v c="$(nproc)" 'BEGIN { exit !(l > c / 2) }'; then
	echo "bench: load average is $LOAD_START on $(nproc) cores: other work is running, the numbers will be noisy" >&2
fi
LOGS=$WORK/logs

STRATA=$WORK/strata
if [ -n "$STRATA_BIN" ]; then
	[ -x "$STRATA_BIN" ] || die "--strata $STRATA_BIN: not an executable file"
	cp "$STRATA_BIN" "$STRATA"
	STRATA_FROM="--strata $STRATA_BIN"
else
	echo "bench: building strata from $REPO" >&2
	(cd "$REPO" && go build -o "$STRATA" .) || die "go build failed in $REPO (or pass --strata BIN)"
	STRATA_FROM="built from $(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo "$REPO")"
fi

# ---- contexts ---------------------------------------------------------------

# make_rootfs writes a busybox root filesystem tar (what `strata example`
# uses as a base too): busybox and its applet links, passwd, group, dirs.
make_rootfs() {
	local out=$1 r=$WORK/rootfs a
	mkdir -p "$r"/{bin,etc,root,tmp,home/app,usr/bin,var,dev,proc,sys}
	chmod 0700 "$r/root"
	chmod 1777 "$r/tmp"
	chown 1000:1000 "$r/home/app"
	cp "$BUSYBOX" "$r/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n' >"$r/etc/group"
	tar --sort=name --numeric-owner --mtime=@1704067200 -C "$r" -cf "$out" .
	rm -rf "$r"
}

# text N BYTES: BYTES of base64 text in lines of 100 (compressible, like source)
text() { { head -c $(($1 * 3 / 4 + 100)) /dev/urandom | base64 -w 100 || true; } | head -c "$1"; }

make_ctx_a() {
	local c=$1 i
	mkdir -p "$c/src/conf" "$c/src/lib"
	cp "$BENCH/20steps/Dockerfile" "$c/Dockerfile"
	cp "$WORK/rootfs.tar" "$c/"
	for f in one two mid last; do
		text 600 >"$c/src/$f.txt"
	done
	for i in a b c d; do
		printf '[%s]\nname = %s\nlevel = 1\n' "$i" "$i" >"$c/src/conf/$i.conf"
	done
	for i in $(seq -w 1 20); do
		text 4096 >"$c/src/lib/mod$i.txt"
	done
}

# make_ctx_b: files/d00..d49, 100 files each: 60 x 2 KiB text, 30 x 16 KiB
# random, 9 x 32 KiB text, 1 x 128 KiB random (50 MiB in 5,000 files).
make_ctx_b() {
	local c=$1 d i
	cp "$BENCH/copy5000/Dockerfile" "$c/Dockerfile"
	cp "$WORK/rootfs.tar" "$c/"
	for i in $(seq -w 0 49); do
		d=$c/files/d$i
		mkdir -p "$d"
		text $((60 * 2048)) | split -b 2048 -a 2 -d - "$d/t2k_"
		head -c $((30 * 16384)) /dev/urandom | split -b 16384 -a 2 -d - "$d/b16k_"
		text $((9 * 32768)) | split -b 32768 -a 2 -d - "$d/t32k_"
		head -c 131072 /dev/urandom >"$d/b128k_00"
	done
}

make_ctx_c() {
	local c=$1
	cp "$BENCH/run30mb/Dockerfile" "$c/Dockerfile"
	cp "$WORK/rootfs.tar" "$c/"
	echo "seed 1" >"$c/seed.txt"
}

# make_ctx_d: two source dirs of 20 files of 4 KiB text each.
make_ctx_d() {
	local c=$1 i
	cp "$BENCH/multistage/Dockerfile" "$c/Dockerfile"
	cp "$WORK/rootfs.tar" "$c/"
	mkdir -p "$c/src1" "$c/src2"
	text 4096 >"$c/src1/a.txt"
	for i in $(seq -w 1 19); do
		text 4096 >"$c/src1/m$i.txt"
		text 4096 >"$c/src2/m$i.txt"
	done
	text 4096 >"$c/src2/a.txt"
}

# make_ctx_e: files/d000..d999, 100 files of 200 bytes each.
make_ctx_e() {
	local c=$1 i
	cp "$BENCH/copy100k/Dockerfile" "$c/Dockerfile"
	cp "$WORK/rootfs.tar" "$c/"
	for i in $(seq -w 0 999); do
		mkdir -p "$c/files/d$i"
		text 20000 | split -b 200 -a 2 -d - "$c/files/d$i/f"
	done
}

echo "bench: writing contexts into $WORK" >&2
make_rootfs "$WORK/rootfs.tar"
for sc in "${SCENARIOS[@]}"; do
	mkdir -p "$WORK/ctx-$sc"
	"make_ctx_${sc,,}" "$WORK/ctx-$sc"
done
if [[ " ${SCENARIOS[*]} " == *" B "* ]]; then
	nfiles=$(find "$WORK/ctx-B/files" -type f | wc -l)
	[ "$nfiles" -eq 5000 ] || die "generated $nfiles files for scenario B, want 5000"
fi
if [[ " ${SCENARIOS[*]} " == *" E "* ]]; then
	nfiles=$(find "$WORK/ctx-E/files" -type f | wc -l)
	[ "$nfiles" -eq 100000 ] || die "generated $nfiles files for scenario E, want 100000"
fi

# ---- BuildKit: a private dockerd per store -----------------------------------

BUILDKIT=0
BUILDKIT_NOTE=""
DOCKER=/usr/bin/docker # docker.io's client, the daemon's version
DK_DIR=""              # the running daemon's dir: data, exec, pidfile, socket
DK_DIRS=()
dk() { DOCKER_BUILDKIT=1 "$DOCKER" -H "unix://$DK_DIR/sock" "$@"; }

# dk_start DIR: a dockerd on DIR (stopping the one running), warmed up
# with a one-instruction build, so a cold build does not pay its start.
dk_start() {
	dk_stop
	DK_DIR=$1
	DK_DIRS+=("$DK_DIR")
	mkdir -p "$DK_DIR"
	dockerd --data-root "$DK_DIR/data" --exec-root "$DK_DIR/exec" --pidfile "$DK_DIR/pid" \
		-H "unix://$DK_DIR/sock" --bridge=none --iptables=false --ip-masq=false \
		--storage-driver overlay2 >"$DK_DIR/dockerd.log" 2>&1 &
	local i
	for i in $(seq 1 120); do
		dk version >/dev/null 2>&1 && break
		sleep 0.25
	done
	dk version >/dev/null 2>&1 || { tail -n 5 "$DK_DIR/dockerd.log" >&2; die "dockerd did not start on $DK_DIR"; }
	mkdir -p "$WORK/warm"
	printf 'FROM scratch\nLABEL warm=1\n' >"$WORK/warm/Dockerfile"
	dk build -q -t warm "$WORK/warm" >/dev/null 2>&1 || true
}

# dk_stop stops the running dockerd (its files stay, for drop_stores).
dk_stop() {
	[ -n "$DK_DIR" ] || return 0
	local pid
	if [ -f "$DK_DIR/pid" ]; then
		pid=$(cat "$DK_DIR/pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 80); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	umount_under "$DK_DIR"
	DK_DIR=""
}

probe_buildkit() {
	if [ "$NO_BUILDKIT" -eq 1 ]; then
		BUILDKIT_NOTE="BuildKit left out (--no-buildkit)"
		return
	fi
	if [ ! -x "$DOCKER" ] || ! command -v dockerd >/dev/null; then
		BUILDKIT_NOTE="docker.io is not installed (apt-get install -y docker.io): no BuildKit ratios"
		return
	fi
	local p=$WORK/probe-dk
	mkdir -p "$p"
	cp "$WORK/rootfs.tar" "$p/"
	printf 'FROM scratch\nADD rootfs.tar /\nRUN echo probe > /probe\n' >"$p/Dockerfile"
	dk_start "$WORK/docker-probe"
	if dk build --network host --progress plain -t probe "$p" >"$LOGS/probe-buildkit.log" 2>&1; then
		BUILDKIT=1
		BUILDKIT_NOTE="BuildKit of Docker $(dk version --format '{{.Server.Version}}' 2>/dev/null): DOCKER_BUILDKIT=1 docker build --network host, private dockerd (overlay2), started per cold build and warmed up"
	else
		BUILDKIT_NOTE="BuildKit could not build here (see $LOGS/probe-buildkit.log): no BuildKit ratios"
		tail -n 5 "$LOGS/probe-buildkit.log" >&2
	fi
	dk_stop
	rm -rf "$WORK/docker-probe"
}

# ---- buildah: which storage driver and isolation work here -------------------

BUILDAH_NOTE=""
BUILDAH=0
probe_buildah() {
	if ! command -v buildah >/dev/null; then
		BUILDAH_NOTE="buildah is not installed (apt-get install buildah): strata only, no ratios"
		return
	fi
	local p=$WORK/probe drv iso
	mkdir -p "$p"
	cp "$WORK/rootfs.tar" "$p/"
	printf 'FROM scratch\nADD rootfs.tar /\nRUN echo probe > /probe\n' >"$p/Dockerfile"
	local isos=(oci chroot)
	[ -z "$ISOLATION" ] || isos=("$ISOLATION")
	local drivers=(overlay vfs)
	[ -z "$DRIVER" ] || drivers=("$DRIVER")
	for drv in "${drivers[@]}"; do
		for iso in "${isos[@]}"; do
			BH_DIR=$WORK/buildah-probe-$drv-$iso
			BH_DIRS+=("$BH_DIR")
			BH_DRIVER=$drv
			local flags=(--layers --isolation "$iso")
			# buildah's default OCI runtime here (crun) fails on this cgroup
			# setup; runc (what strata's tests use too) works.
			[ "$iso" = chroot ] || flags+=(--runtime runc)
			if bh build "${flags[@]}" -t probe "$p" >"$LOGS/probe-$drv-$iso.log" 2>&1; then
				BH_FLAGS=("${flags[@]}")
				BUILDAH=1
				bh_destroy "$BH_DIR"
				return
			fi
			bh_destroy "$BH_DIR"
			echo "bench: buildah with --storage-driver $drv --isolation $iso does not work here:" >&2
			tail -n 3 "$LOGS/probe-$drv-$iso.log" | sed 's/^/  /' >&2
		done
	done
	BUILDAH_NOTE="buildah is installed but could not build here with overlay or vfs storage (see the lines above): strata only, no ratios"
}
probe_buildah
probe_buildkit
echo "bench: $BUILDKIT_NOTE" >&2
if [ "$BUILDAH" -eq 1 ]; then
	BUILDAH_VERSION=$(buildah --version | awk '{print $3}')
	BUILDAH_NOTE="buildah $BUILDAH_VERSION: build ${BH_FLAGS[*]}, --storage-driver $BH_DRIVER, own --root/--runroot"
	if [ "$BH_DRIVER" = vfs ] && [ -z "$DRIVER" ]; then
		BUILDAH_NOTE+=$'\n'"CAVEAT: overlay storage does not work for buildah on this machine, so buildah runs on vfs,"
		BUILDAH_NOTE+=$'\n'"which copies the whole rootfs per layer: buildah's cold builds and one-file-change"
		BUILDAH_NOTE+=$'\n'"rebuilds are slower than they would be on overlay, and the ratios flatter strata."
	elif [ "$BH_DRIVER" = vfs ]; then
		BUILDAH_NOTE+=$'\n'"CAVEAT: --buildah-driver vfs copies the whole rootfs per layer; buildah is slower than on overlay."
	fi
fi
echo "bench: $BUILDAH_NOTE" >&2

# ---- measuring --------------------------------------------------------------

# timed LOG CMD...: runs CMD with its output in LOG; ELAPSED is the wall time.
ELAPSED=0
timed() {
	local log=$1 t0 t1 rc=0
	shift
	sync
	t0=$EPOCHREALTIME
	"$@" >"$log" 2>&1 || rc=$?
	t1=$EPOCHREALTIME
	ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	return $rc
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

fail_build() {
	local log=$1
	shift
	echo "bench: $*" >&2
	echo "---- last lines of $log ----" >&2
	tail -n 25 "$log" >&2
	echo "----" >&2
	[ "$KEEP" -eq 1 ] || echo "bench: run with --keep to keep the logs and stores" >&2
	exit 1
}

# check LOG TOOL PHASE WANT: the build's output must show WANT cache hits.
check() {
	local log=$1 tool=$2 phase=$3 want=$4 got
	if [ "$tool" = strata ]; then
		got=$(grep -c '^ ---> Using cache$' "$log" || true)
		grep -q '^Successfully built ' "$log" || fail_build "$log" "strata $phase: no 'Successfully built' line"
	elif [ "$tool" = buildkit ]; then
		got=$(grep -cE '^#[0-9]+ CACHED$' "$log" || true)
	else
		got=$(grep -c -- '--> Using cache' "$log" || true)
	fi
	CHECKED="$got cached"
	[ "$BAD" -eq 0 ] || return 0
	if [ "$got" -ne "$want" ]; then
		peer_bad "$log" "$tool" "$phase: $got steps from the cache, want $want (the cache is broken, or the benchmark is)"
	elif [ -n "$EXPECT_OUT" ] && [ "$phase" != no-change ] && ! grep -q "$EXPECT_OUT" "$log"; then
		peer_bad "$log" "$tool" "$phase: the RUN did not print '$EXPECT_OUT'"
	fi
}

# peer_bad LOG TOOL WHAT: strata's failures end the benchmark; a peer's
# (a daemon on a shared machine can fail where nothing is wrong with the
# build) excludes that measurement, and the report lists it.
BAD=0
PEER_FAILS=()
peer_bad() {
	local log=$1 tool=$2 what=$3
	[ "$tool" != strata ] || fail_build "$log" "strata $what"
	BAD=1
	PEER_FAILS+=("$tool $SC $what; excluded (log: $(basename "$log"): $(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | cut -c1-160))")
	echo "bench: $tool $SC $what: excluded from the median" >&2
}

# build TOOL SCENARIO PHASE RUN: one build of the scenario's context.
build() {
	local tool=$1 sc=$2 phase=$3 i=$4 log
	log=$LOGS/$sc-$phase-$tool-$i.log
	if [ "$tool" = strata ]; then
		# --trace, not --report: a report adds the wasted-space analysis
		# (it gzips each new layer), which the peers do not do; the trace
		# is the build's events written out (each step's phases).
		# --network host as BuildKit's (its private dockerd has no bridge):
		# the same network for every RUN of both.
		timed "$log" "$STRATA" build --root "$S_ROOT" --network host --progress plain -t "bench-${sc,,}:latest" \
			--trace "$LOGS/$sc-$phase-$tool-$i.trace.json" "$CTX" ||
			fail_build "$log" "strata build failed ($sc $phase run $i)"
		# what the wall time has beyond the build's own duration (the
		# "Successfully built ... in D" line): its start and exit
		local d
		d=$(sed -nE 's/^Successfully built .* in ([0-9.]+)(ms|s|m[0-9.]+s)?$/\1 \2/p' "$log" | tail -n 1)
		case "$d" in
		*" ms") OUTSIDE[$sc,$phase]+=" $(awk -v w="$ELAPSED" -v d="${d% ms}" 'BEGIN { printf "%.3f", w - d / 1000 }')" ;;
		*" s") OUTSIDE[$sc,$phase]+=" $(awk -v w="$ELAPSED" -v d="${d% s}" 'BEGIN { printf "%.3f", w - d }')" ;;
		esac
	elif [ "$tool" = buildkit ]; then
		timed "$log" dk build --network host --progress plain -t "bench-${sc,,}:latest" "$CTX" ||
			peer_bad "$log" buildkit "$phase run $i: the build failed"
	else
		timed "$log" bh build "${BH_FLAGS[@]}" -t "bench-${sc,,}:latest" "$CTX" ||
			peer_bad "$log" buildah "$phase run $i: the build failed"
	fi
	LAST_LOG=$log
}

# new_store TOOL SCENARIO RUN: fresh, empty storage for TOOL. The old ones
# are removed only when the scenario is done: on this VM's journal-less
# ext4, creating files right after deleting thousands is several times
# slower (the allocator skips recently deleted inodes), which would tax the
# next cold build for the previous one's cleanup.
new_store() {
	local tool=$1 sc=$2 i=$3
	if [ "$tool" = strata ]; then
		S_ROOT=$WORK/strata-$sc-$i
		OLD_STORES+=("$S_ROOT")
	elif [ "$tool" = buildkit ]; then
		dk_start "$WORK/docker-$sc-$i"
	else
		BH_DIR=$WORK/buildah-$sc-$i
		BH_DIRS+=("$BH_DIR")
		mkdir -p "$BH_DIR"
	fi
}

# drop_stores removes the stores of the scenario just measured (--keep:
# unmounts buildah's, keeps them all).
drop_stores() {
	local d
	for d in "${BH_DIRS[@]}"; do
		bh_destroy "$d" "$KEEP"
	done
	BH_DIRS=()
	dk_stop
	if [ "$KEEP" -eq 0 ]; then
		for d in "${DK_DIRS[@]}"; do
			umount_under "$d"
			rm -rf "$d"
		done
	fi
	DK_DIRS=()
	[ "$KEEP" -eq 1 ] || rm -rf "${OLD_STORES[@]}"
	OLD_STORES=()
}

# change_file: give the scenario's changed file new content (and size).
change_file() {
	cp "$WORK/orig-$SC" "$CTX/$CHANGE"
	printf 'changed %s %s\n' "$1" "$EPOCHREALTIME" >>"$CTX/$CHANGE"
}

# ---- the floor: the same work, run directly -----------------------------------
#
# A builder cannot be faster than the work its steps do. The floor runs that
# work with nothing around it, in a plain directory: the Dockerfile's
# instructions, read from the Dockerfile itself, in the same order, with the
# same ENV and WORKDIR: ADD of the rootfs tar is tar -x, COPY is cp -a of the
# same files (COPY --from: from the stage's directory), RUN is its command
# run by the rootfs's /bin/sh under env -i and chroot (the cheapest
# isolation that runs it; /dev/null, zero, random and urandom are device
# nodes made in the root's /dev), a stage is a hard-linked copy (cp -al) of
# its parent's directory. Independent stages run at once (as BuildKit runs
# them): stages go in waves, a stage in the first wave after all it depends
# on. For a one-file change only the steps a correct cache must run again are
# timed (the changed step, every later step of its stage, and the stages
# built on it or copying from it); the rest is prepared before the clock
# starts. A no-change rebuild has no floor: no step has work to redo. The
# floor leaves out what any builder must add (snapshotting layers, hashing,
# the image config), so it is a bound no builder reaches, not a target.

FL_KIND=() FL_ARG=() FL_STAGE=() FL_ENV=() FL_WD=() FL_FROM=() FL_T=()
FL_SPARENT=() FL_SDEPS=() FL_SWAVE=() FL_NWAVES=0 FL_NSTAGES=0

# floor_parse DOCKERFILE: reads the instructions into FL_* (one per step,
# numbered as strata numbers them) and the stages' parents, dependencies and
# waves. It knows the instructions the bench Dockerfiles use and refuses
# the others.
floor_parse() {
	local df=$1 line kind rest n=0 st=-1 env="" wd=/ parent as name p src dst kv w d
	local -A sidx=() senv=() swd=()
	FL_KIND=() FL_ARG=() FL_STAGE=() FL_ENV=() FL_WD=() FL_FROM=()
	FL_SPARENT=() FL_SDEPS=() FL_SWAVE=()
	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		n=$((n + 1))
		kind=${line%%[[:space:]]*}
		kind=${kind^^}
		rest=${line#*[[:space:]]}
		case "$kind" in
		FROM)
			st=$((st + 1))
			read -r parent as name <<<"$rest"
			[ -z "$name" ] || sidx[$name]=$st
			if [ "$parent" = scratch ]; then
				FL_SPARENT[st]=-1 FL_SDEPS[st]="" env="" wd=/
			else
				[ -n "${sidx[$parent]:-}" ] || die "floor: $df step $n: FROM $parent is not an earlier stage"
				p=${sidx[$parent]}
				FL_SPARENT[st]=$p FL_SDEPS[st]=$p env=${senv[$p]} wd=${swd[$p]}
			fi
			;;
		ENV)
			for kv in $rest; do
				[[ $kv =~ ^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_./:-]*$ ]] || die "floor: $df step $n: ENV $kv: want KEY=VALUE without quotes or spaces"
				env+=" $kv"
			done
			;;
		WORKDIR)
			[[ $rest =~ ^[A-Za-z0-9_./-]+$ ]] || die "floor: $df step $n: WORKDIR $rest: want a plain path"
			if [[ $rest == /* ]]; then wd=$rest; else wd=${wd%/}/$rest; fi
			;;
		COPY)
			read -r src dst <<<"$rest"
			if [[ $src == --from=* ]]; then
				name=${src#--from=}
				[ -n "${sidx[$name]:-}" ] || die "floor: $df step $n: COPY --from=$name is not an earlier stage"
				FL_FROM[n]=${sidx[$name]}
				FL_SDEPS[st]+=" ${sidx[$name]}"
				rest=${rest#*[[:space:]]}
			fi
			;;
		ADD | RUN | CMD) ;;
		*) die "floor: $df step $n: $kind is not an instruction the floor knows (FROM, ADD, COPY, ENV, WORKDIR, RUN, CMD)" ;;
		esac
		FL_KIND[n]=$kind FL_ARG[n]=$rest FL_STAGE[n]=$st FL_ENV[n]=$env FL_WD[n]=$wd
		senv[$st]=$env swd[$st]=$wd
	done <"$df"
	FL_NSTAGES=$((st + 1))
	FL_NWAVES=0
	for ((st = 0; st < FL_NSTAGES; st++)); do
		w=0
		for d in ${FL_SDEPS[st]}; do
			[ "${FL_SWAVE[d]}" -lt "$w" ] || w=$((FL_SWAVE[d] + 1))
		done
		FL_SWAVE[st]=$w
		[ "$w" -lt "$FL_NWAVES" ] || FL_NWAVES=$((w + 1))
	done
}

# floor_mark PHASE CHANGED: FL_T[n]=1 for the steps timed in PHASE: all of
# them cold; after a change to step CHANGED's files, that step and what a
# correct cache must rebuild after it; none for a no-change rebuild.
floor_mark() {
	local phase=$1 changed=$2 n st
	local -A dirty=()
	FL_T=()
	for ((n = 1; n <= ${#FL_KIND[@]}; n++)); do
		st=${FL_STAGE[n]}
		FL_T[n]=0
		case "$phase" in
		cold) FL_T[n]=1 ;;
		one-file)
			if [ "$n" -eq "$changed" ] || [ "${dirty[$st]:-0}" -eq 1 ]; then
				FL_T[n]=1
			elif [ "${FL_KIND[n]}" = FROM ] && [ "${FL_SPARENT[st]}" -ge 0 ] && [ "${dirty[${FL_SPARENT[st]}]:-0}" -eq 1 ]; then
				FL_T[n]=1
			elif [ -n "${FL_FROM[n]:-}" ] && [ "${dirty[${FL_FROM[n]}]:-0}" -eq 1 ]; then
				FL_T[n]=1
			fi
			;;
		esac
		[ "${FL_T[n]}" -eq 0 ] || dirty[$st]=1
	done
}

# floor_step DIR N: does step N's work in the stage directories under DIR.
floor_step() {
	local dir=$1 n=$2 st r src dst from wd kv
	st=${FL_STAGE[n]}
	r=$dir/s$st
	wd=${FL_WD[n]}
	case "${FL_KIND[n]}" in
	FROM)
		if [ "${FL_SPARENT[st]}" -lt 0 ]; then
			mkdir "$r" || return 1
		else
			cp -al "$dir/s${FL_SPARENT[st]}" "$r" || return 1
		fi
		;;
	ADD)
		read -r src dst <<<"${FL_ARG[n]}"
		[[ $src == *.tar ]] && [ "$dst" = / ] || { echo "floor: ADD ${FL_ARG[n]}: only a local tar to / is known" >&2; return 1; }
		tar -C "$r" -xf "$CTX/$src" || return 1
		;;
	WORKDIR) mkdir -p "$r$wd" || return 1 ;;
	COPY)
		read -r src dst <<<"${FL_ARG[n]}"
		from=$CTX
		[ -z "${FL_FROM[n]:-}" ] || from=$dir/s${FL_FROM[n]}
		[[ $dst == /* ]] || dst=${wd%/}/$dst
		if [ -d "$from/$src" ]; then
			mkdir -p "$r$dst" && cp -a "$from/${src%/}/." "$r$dst" || return 1
		elif [[ $dst == */ ]]; then
			mkdir -p "$r$dst" && cp -a "$from/$src" "$r$dst" || return 1
		else
			mkdir -p "$(dirname "$r$dst")" && cp -a "$from/$src" "$r$dst" || return 1
		fi
		;;
	RUN)
		if [ ! -c "$r/dev/null" ]; then
			mkdir -p "$r/dev" && mknod -m 666 "$r/dev/null" c 1 3 && mknod -m 666 "$r/dev/zero" c 1 5 &&
				mknod -m 666 "$r/dev/random" c 1 8 && mknod -m 666 "$r/dev/urandom" c 1 9 || return 1
		fi
		# shellcheck disable=SC2086 # FL_ENV is KEY=VALUE words, checked by floor_parse
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root ${FL_ENV[n]} \
			chroot "$r" /bin/sh -c "cd $wd && ${FL_ARG[n]}" || return 1
		;;
	ENV | CMD) ;;
	esac
}

# floor_pass DIR T: does the steps with FL_T = T, wave by wave; the stages
# of a wave at once.
floor_pass() {
	local dir=$1 t=$2 w st n pids rc=0 p
	for ((w = 0; w < FL_NWAVES; w++)); do
		pids=()
		for ((st = 0; st < FL_NSTAGES; st++)); do
			[ "${FL_SWAVE[st]}" -eq "$w" ] || continue
			(
				for ((n = 1; n <= ${#FL_KIND[@]}; n++)); do
					[ "${FL_STAGE[n]}" -eq "$st" ] && [ "${FL_T[n]}" -eq "$t" ] || continue
					floor_step "$dir" "$n" || { echo "floor: step $n (${FL_KIND[n]} ${FL_ARG[n]}) failed" >&2; exit 1; }
				done
			) &
			pids+=("$!")
		done
		for p in "${pids[@]}"; do
			wait "$p" || rc=1
		done
		[ "$rc" -eq 0 ] || return 1
	done
}

# floor_run PHASE RUN: one floor measurement of $SC's PHASE into ELAPSED.
floor_run() {
	local phase=$1 i=$2 dir log
	dir=$WORK/floor-$SC-$phase-$i
	log=$LOGS/$SC-$phase-floor-$i.log
	OLD_STORES+=("$dir")
	mkdir -p "$dir"
	floor_mark "$phase" "$CHANGED"
	if [ "$i" -eq 1 ]; then
		local n timed_steps="" prepared=""
		for ((n = 1; n <= ${#FL_KIND[@]}; n++)); do
			if [ "${FL_T[n]}" -eq 1 ]; then timed_steps+=" $n"; else prepared+=" $n"; fi
		done
		echo "bench: $TITLE $phase floor times steps${timed_steps:- none} (prepared first:${prepared:- none})" >&2
	fi
	floor_pass "$dir" 0 >"$LOGS/$SC-$phase-floor-$i-prepare.log" 2>&1 ||
		fail_build "$LOGS/$SC-$phase-floor-$i-prepare.log" "floor: preparing $SC $phase failed"
	timed "$log" floor_pass "$dir" 1 || fail_build "$log" "floor: $SC $phase run $i failed"
	if [ -n "$EXPECT_OUT" ] && ! grep -q "$EXPECT_OUT" "$log"; then
		fail_build "$log" "floor: $SC $phase: the RUN did not print '$EXPECT_OUT'"
	fi
}

declare -A RES   # RES[sc,phase,tool] = median seconds
declare -A NRUNS # how many runs that median has
declare -A COPYT
declare -A OUTSIDE # OUTSIDE[sc,phase] = strata's wall time beyond its build's own duration, per run
TAR_MED=""
STRATA_COPY_MED=""

bench_scenario() {
	SC=$1
	CTX=$WORK/ctx-$SC
	# STEPS: instructions; S_CHANGE: strata's cache hits after the change
	# (FROM and metadata steps count); BK_ALL, BK_CHANGE: BuildKit's CACHED
	# vertices (ADD, COPY, RUN, WORKDIR) on a no-change and a one-file rebuild.
	case "$SC" in
	A)
		STEPS=20 CHANGED=12 CHANGE=src/mid.txt EXPECT_OUT=""
		S_CHANGE=11 BK_ALL=16 BK_CHANGE=8
		;;
	B)
		STEPS=4 CHANGED=3 CHANGE=files/d25/t2k_30 EXPECT_OUT="5000 files"
		S_CHANGE=2 BK_ALL=3 BK_CHANGE=1
		;;
	C)
		STEPS=4 CHANGED=3 CHANGE=seed.txt EXPECT_OUT="1700 files"
		S_CHANGE=2 BK_ALL=3 BK_CHANGE=1
		;;
	D)
		STEPS=12 CHANGED=4 CHANGE=src1/a.txt EXPECT_OUT="multi-stage done"
		S_CHANGE=7 BK_ALL=8 BK_CHANGE=3
		;;
	E)
		STEPS=4 CHANGED=3 CHANGE=files/d500/f42 EXPECT_OUT="100000 files"
		S_CHANGE=2 BK_ALL=3 BK_CHANGE=1
		;;
	esac
	TITLE=$(title "$SC")
	local got
	got=$(grep -cvE '^[[:space:]]*(#|$)' "$CTX/Dockerfile")
	[ "$got" -eq "$STEPS" ] || die "$CTX/Dockerfile has $got steps, the script expects $STEPS"
	cp "$CTX/$CHANGE" "$WORK/orig-$SC"
	floor_parse "$CTX/Dockerfile"
	[ "${#FL_KIND[@]}" -eq "$STEPS" ] || die "floor: read ${#FL_KIND[@]} steps in $CTX/Dockerfile, want $STEPS"

	local tools=(strata)
	[ "$BUILDKIT" -eq 0 ] || tools+=(buildkit)
	[ "$BUILDAH" -eq 0 ] || tools+=(buildah)
	# Expected cache hits. strata prints "Using cache" for FROM too;
	# buildah has no FROM step to cache for FROM scratch.
	declare -A want_cold=([strata]=0 [buildkit]=0 [buildah]=0)
	declare -A want_same=([strata]=$STEPS [buildkit]=$BK_ALL [buildah]=$((STEPS - 1)))
	declare -A want_change=([strata]=$S_CHANGE [buildkit]=$BK_CHANGE [buildah]=$((CHANGED - 2)))

	local phase i j tool order run
	declare -A cold_bad=()
	for phase in cold no-change one-file; do
		if [ "$phase" = no-change ]; then
			# The rebuilds use the last cold build's store: a peer's that
			# failed is completed first by one more build, not measured.
			for tool in "${tools[@]}"; do
				if [ "${cold_bad[$tool]:-0}" -eq 1 ]; then
					BAD=0
					build "$tool" "$SC" prepare 0
					echo "bench: $tool $SC: its last cold build failed; one more build (not measured) completed its store" >&2
				fi
			done
		fi
		declare -A times=()
		run=("${tools[@]}")
		# B's cold builds take turns with the physical floor for a COPY:
		# one tar pipe of the same files into an empty dir
		[ "$SC" != B ] || [ "$phase" != cold ] || run+=(tar)
		# and every cold build and one-file change with the floor (the
		# same steps' work, run directly: see floor_run)
		[ "$phase" = no-change ] || run+=(floor)
		for ((i = 1; i <= N; i++)); do
			# rotate who goes first, so no one always gets the same slot
			order=()
			for ((j = 0; j < ${#run[@]}; j++)); do
				order+=("${run[(i - 1 + j) % ${#run[@]}]}")
			done
			for tool in "${order[@]}"; do
				if [ "$tool" = tar ]; then
					local dst=$WORK/tar-dst-$i
					OLD_STORES+=("$dst")
					mkdir -p "$dst"
					timed "$LOGS/B-tar-$i.log" bash -c 'tar -C "$1" -cf - . | tar -C "$2" -xf -' _ "$CTX/files" "$dst" ||
						fail_build "$LOGS/B-tar-$i.log" "tar baseline failed"
					times[tar]+=" $ELAPSED"
					printf 'bench: %-11s %-9s %-7s run %d/%d: %6.3fs\n' "$TITLE" "$phase" tar "$i" "$N" "$ELAPSED" >&2
					continue
				fi
				if [ "$tool" = floor ]; then
					[ "$phase" != one-file ] || change_file "floor-$i"
					floor_run "$phase" "$i"
					times[floor]+=" $ELAPSED"
					printf 'bench: %-11s %-9s %-7s run %d/%d: %6.3fs\n' "$TITLE" "$phase" floor "$i" "$N" "$ELAPSED" >&2
					continue
				fi
				BAD=0
				case "$phase" in
				cold)
					new_store "$tool" "$SC" "$i"
					build "$tool" "$SC" "$phase" "$i"
					check "$LAST_LOG" "$tool" "$phase" "${want_cold[$tool]}"
					if [ "$tool" = strata ] && [ "$SC" = B ] && command -v jq >/dev/null; then
						COPYT[$i]=$(jq -r '[.traceEvents[] | select(.cat == "step" and (.name | startswith("COPY files"))) | .dur / 1e6][0]' "$LOGS/$SC-$phase-$tool-$i.trace.json")
					fi
					;;
				no-change)
					build "$tool" "$SC" "$phase" "$i"
					check "$LAST_LOG" "$tool" "$phase" "${want_same[$tool]}"
					;;
				one-file)
					change_file "$tool-$i"
					build "$tool" "$SC" "$phase" "$i"
					check "$LAST_LOG" "$tool" "$phase" "${want_change[$tool]}"
					;;
				esac
				[ "$phase" != cold ] || cold_bad[$tool]=$BAD
				if [ "$BAD" -eq 1 ]; then
					printf 'bench: %-11s %-9s %-7s run %d/%d: %6.3fs (%s, EXCLUDED)\n' "$TITLE" "$phase" "$tool" "$i" "$N" "$ELAPSED" "$CHECKED" >&2
					continue
				fi
				times[$tool]+=" $ELAPSED"
				printf 'bench: %-11s %-9s %-7s run %d/%d: %6.3fs (%s, ok)\n' "$TITLE" "$phase" "$tool" "$i" "$N" "$ELAPSED" "$CHECKED" >&2
			done
		done
		for tool in "${run[@]}"; do
			# shellcheck disable=SC2086
			if [ -n "${times[$tool]:-}" ]; then
				RES[$SC,$phase,$tool]=$(median ${times[$tool]})
				NRUNS[$SC,$phase,$tool]=$(wc -w <<<"${times[$tool]}")
			else
				RES[$SC,$phase,$tool]=n/a
				NRUNS[$SC,$phase,$tool]=0
			fi
		done
		unset times
	done
	cp "$WORK/orig-$SC" "$CTX/$CHANGE"

	if [ "$SC" = B ]; then
		TAR_MED=${RES[B,cold,tar]}
		if [ ${#COPYT[@]} -gt 0 ]; then
			STRATA_COPY_MED=$(median "${COPYT[@]}")
		fi
	fi
	# free the stores of this scenario before the next one (stores were
	# only moved aside, new ones made, while it was measured)
	drop_stores
	S_ROOT=""
	BH_DIR=""
}

ratio() {
	if [ "$1" = n/a ] || [ "$2" = n/a ]; then
		echo n/a
		return
	fi
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}
title() {
	case "$1" in
	A) echo "A 20 steps" ;;
	B) echo "B COPY 5000" ;;
	C) echo "C RUN 30MB" ;;
	D) echo "D multi-stage" ;;
	E) echo "E COPY 100k" ;;
	esac
}

S_ROOT=""
BH_DIR=""
OLD_STORES=()
for sc in "${SCENARIOS[@]}"; do
	bench_scenario "$sc"
done

# ---- report -----------------------------------------------------------------

echo
if [ "$BUILDAH" -eq 1 ]; then against="buildah $BUILDAH_VERSION"; else against="no buildah"; fi
echo "strata ($STRATA_FROM; strata build --network host, as BuildKit's) vs $against," \
	"median of $N runs, wall seconds; $(nproc) cores, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
echo "$BUILDKIT_NOTE"
echo "$BUILDAH_NOTE"
echo "load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-14s %-18s %7s %8s %7s %8s %10s %8s %8s %9s  %s\n' scenario phase strata buildkit floor buildah s/buildkit floor/bk s/floor s/buildah "aim (s/buildkit)"
for sc in "${SCENARIOS[@]}"; do
	for phase in cold no-change one-file; do
		case "$phase" in
		cold) label="cold build" aim=0.70 ;;
		no-change) label="no-change rebuild" aim=0.30 ;;
		one-file) label="one-file-change" aim=0.30 ;;
		esac
		s=${RES[$sc,$phase,strata]}
		k=n/a rk=n/a verdict=""
		if [ "$BUILDKIT" -eq 1 ]; then
			k=${RES[$sc,$phase,buildkit]}
			[ "${NRUNS[$sc,$phase,buildkit]}" -eq "$N" ] || k="$k(${NRUNS[$sc,$phase,buildkit]})"
			rk=$(ratio "${RES[$sc,$phase,strata]}" "${RES[$sc,$phase,buildkit]}")
			if [ "$rk" = n/a ]; then verdict=""; elif awk -v r="$rk" -v a="$aim" 'BEGIN { exit !(r <= a) }'; then verdict="<= $aim met"; else verdict="<= $aim MISSED"; fi
		fi
		f=- fk=- sf=-
		if [ "$phase" != no-change ]; then
			f=${RES[$sc,$phase,floor]}
			fk=$(ratio "$f" "${RES[$sc,$phase,buildkit]:-n/a}")
			sf=$(ratio "$s" "$f")
			if [ "$fk" != n/a ] && awk -v r="$fk" -v a="$aim" 'BEGIN { exit !(r > a) }'; then
				verdict+=" (floor alone is $fk)"
			fi
		fi
		b=n/a rb=n/a
		if [ "$BUILDAH" -eq 1 ]; then
			b=${RES[$sc,$phase,buildah]}
			rb=$(ratio "$s" "$b")
		fi
		printf '%-14s %-18s %7s %8s %7s %8s %10s %8s %8s %9s  %s\n' "$(title "$sc")" "$label" "$s" "$k" "$f" "$b" "$rk" "$fk" "$sf" "$rb" "$verdict"
	done
done
echo
echo "floor: the same steps' work run directly, taking turns with the builds: ADD as tar -x, COPY as cp -a,"
echo "RUN as env -i chroot ROOT /bin/sh -c (the Dockerfile's own commands, ENV and WORKDIR), independent"
echo "stages at once; for a one-file change only the steps a correct cache must redo. It has no layer"
echo "snapshot, hash or image to write, so floor/bk is the best ratio any builder could reach; a no-change"
echo "rebuild has no work to redo (-). A COPY's floor copies all its files again (as BuildKit does): a"
echo "builder that reuses the unchanged files of the previous layer can go below it (s/floor < 1)."
if [ ${#OUTSIDE[@]} -gt 0 ]; then
	echo
	echo "strata's wall time beyond the build's own duration (\"Successfully built ... in D\"): its start"
	echo "and exit, median s"
	for sc in "${SCENARIOS[@]}"; do
		line=""
		for phase in cold no-change one-file; do
			# shellcheck disable=SC2086
			[ -z "${OUTSIDE[$sc,$phase]:-}" ] || line+=$(printf '  %s %s' "$phase" "$(median ${OUTSIDE[$sc,$phase]})")
		done
		printf '  %-14s%s\n' "$(title "$sc")" "$line"
	done
fi
if [ -n "$TAR_MED" ]; then
	echo
	mb=$(find "$WORK/ctx-B/files" -type f -printf '%s\n' | awk '{ n += $1 } END { printf "%.1f", n / 1e6 }')
	echo "B baseline (taking turns with the cold builds): tar -C files -cf - . | tar -C dst -xf -  $TAR_MED s (5,000 files, $mb MB)"
	if [ -n "$STRATA_COPY_MED" ]; then
		printf 'B strata cold COPY step (--trace): %.3f s = %s x tar\n' "$STRATA_COPY_MED" "$(ratio "$STRATA_COPY_MED" "$TAR_MED")"
	else
		echo "B strata cold COPY step: needs jq to read --trace (apt-get install jq)"
	fi
fi
if [ "$BUILDAH" -eq 0 ]; then
	echo
	echo "ratios against buildah are unavailable: $BUILDAH_NOTE"
fi
if [ ${#PEER_FAILS[@]} -gt 0 ]; then
	echo
	echo "peer measurements excluded (a value followed by (n) is the median of n runs):"
	printf '  %s\n' "${PEER_FAILS[@]}"
fi
