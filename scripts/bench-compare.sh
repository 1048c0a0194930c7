#!/usr/bin/env bash
# Side-by-side measurements for issue 7, in one go on the same frames and files:
#   1. decode: our decoder (examples/decode_file, one thread, YUYV to /dev/null) vs
#      `ffmpeg -threads 1 -f mjpeg -i FRAMES -pix_fmt yuyv422 -f rawvideo -y /dev/null`,
#      runs alternating, per frame set;
#   2. offload: `alpha-bridge offload --once --camera 127.0.0.1` vs
#      `gphoto2 --port ptpip:127.0.0.1 --get-all-files`, each against a fresh
#      `alpha-bridge emulate --wifi --files DIR` (one session per activation, like the
#      real body), runs alternating.
# Prints min/median/max seconds (wall, whole process) and the ratio theirs/ours of the
# medians (above 1 = we are faster).
#
# Loopback only. As root, the offload part runs inside a fresh network namespace
# (`unshare -n`, lo up) so the emulator's SSDP announcements cannot leave the machine.
#
#   3. with --vm: the end-to-end comparison in the real-kernel VM (tests/vm/scenarios/
#      bench_e2e.sh: `alpha-bridge webcam` vs `gphoto2 --capture-movie --stdout | ffmpeg
#      -f v4l2` on the same emulated body and consumer), printing its ratios.
#
# Usage: scripts/bench-compare.sh [--vm] [RUNS] [FEATURES]   e.g. `scripts/bench-compare.sh 5`
# Env: FRAMES (frames per file, 300), OFFLOAD_FILES (8), OFFLOAD_MIB (32 per file),
#      SKIP_DECODE=1 / SKIP_OFFLOAD=1, WORK (scratch dir, default target/bench-compare),
#      LARGE_GIB=N: also offload one N GiB file (ours only) and print its time, peak RSS
#      and whether the copy is byte-identical (needs 2 x N GiB of disk under WORK).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
if [ "${1:-}" = --vm ]; then
    # E2E_ROUNDS (2) and E2E_WINDOW (15 s) pass through to the guest.
    shift
    GUEST_ENV="E2E_ROUNDS=${E2E_ROUNDS:-${1:-2}} E2E_WINDOW=${E2E_WINDOW:-15}" \
        tests/vm/run.sh scenarios/bench_e2e.sh || true
    VM_OUT=${VM_DIR:-/tmp/alpha-bridge-vm}/out/bench_e2e.log
    grep -E '^e2e' "$VM_OUT" || { echo "bench_e2e printed no figures: see $VM_OUT" >&2; exit 1; }
    exit 0
fi
RUNS=${1:-5}
FEATURES=${2:-}
WORK=${WORK:-$ROOT/target/bench-compare}
mkdir -p "$WORK"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need ffmpeg || ! need gphoto2; then
    echo "installing ffmpeg and gphoto2"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq ffmpeg gphoto2
fi

# A build with features goes to its own target dir, so target/release keeps the default
# build (a turbojpeg build would otherwise replace the binary users run).
OUTDIR=$ROOT/target
FEAT_ARGS=()
if [ -n "$FEATURES" ]; then
    OUTDIR=$ROOT/target/bench-${FEATURES//[^a-z0-9]/-}
    FEAT_ARGS=(--features "$FEATURES" --target-dir "$OUTDIR")
fi
cargo build --release "${FEAT_ARGS[@]}" --bin alpha-bridge --example make_frames --example decode_file
BIN=$OUTDIR/release/alpha-bridge
DECODE=$OUTDIR/release/examples/decode_file
# Ours: the default decoder (libjpeg-turbo when installed, else zune); BACKEND=zune to
# time the pure-Rust fallback.
BACKEND=${BACKEND:-$(ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0 ' && echo turbojpeg || echo zune)}

# Seconds (wall) of one command, output discarded.
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}

# min median max of the numbers on stdin.
stats() { sort -g | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f %.3f %.3f", v[1], m, v[NR]}'; }

report() { # name ours-file theirs-file per-unit units
    local name=$1 o t
    o=$(stats <"$2"); t=$(stats <"$3")
    read -r omin omed omax <<<"$o"; read -r tmin tmed tmax <<<"$t"
    printf "%-34s ours %s/%s/%s s  theirs %s/%s/%s s  (min/median/max)  ratio %.2fx" \
        "$name" "$omin" "$omed" "$omax" "$tmin" "$tmed" "$tmax" "$(echo "$tmed / $omed" | bc -l)"
    if [ -n "${4:-}" ]; then
        printf "  [%.2f vs %.2f ms per %s]" "$(echo "$omed * 1000 / $4" | bc -l)" "$(echo "$tmed * 1000 / $4" | bc -l)" "$5"
    fi
    echo
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -z "${SKIP_DECODE:-}" ]; then
    FRAMES=${FRAMES:-300}
    FR=$WORK/frames
    [ -f "$FR/.done-$FRAMES" ] || { "$OUTDIR/release/examples/make_frames" "$FR" "$FRAMES" >/dev/null && touch "$FR/.done-$FRAMES"; }
    echo "== decode to YUYV, one thread, $FRAMES frames per file, $RUNS alternating runs, ours = $BACKEND"
    for f in testcard-1024x680-422 photo-1024x680-422 photo-1024x680-420 testcard-1920x1080-422 photo-1920x1080-422 photo-1920x1080-420; do
        : >"$WORK/ours"; : >"$WORK/theirs"
        for _ in $(seq "$RUNS"); do
            timed "$DECODE" "$FR/$f.mjpeg" "$BACKEND" >>"$WORK/ours"
            timed ffmpeg -nostdin -v error -threads 1 -f mjpeg -i "$FR/$f.mjpeg" -pix_fmt yuyv422 -f rawvideo -y /dev/null >>"$WORK/theirs"
        done
        report "$f" "$WORK/ours" "$WORK/theirs" "$FRAMES" frame
    done
fi

if [ -z "${SKIP_OFFLOAD:-}" ]; then
    N=${OFFLOAD_FILES:-8}
    MIB=${OFFLOAD_MIB:-32}
    FILES=$WORK/offload-files-$N-$MIB
    if [ ! -d "$FILES" ]; then
        mkdir -p "$FILES.tmp"
        for i in $(seq -w 1 "$N"); do
            # Incompressible content with a JPEG name; neither side looks inside.
            head -c $((MIB << 20)) /dev/urandom >"$FILES.tmp/DSC0$i.JPG"
        done
        mv "$FILES.tmp" "$FILES"
    fi
    cat >"$WORK/offload-run.sh" <<EOF
#!/usr/bin/env bash
# One offload run: fresh emulator serving \$2 (\$3 files), one client, then stop the
# emulator. \$1 = ours|theirs. Prints the seconds; ours also leaves its peak RSS (KiB) in
# $WORK/peak-rss and, with \$4 set, keeps the received files in \$4.
set -euo pipefail
[ "\$(id -u)" -eq 0 ] && ip link set lo up 2>/dev/null || true
DEST=\${4:-\$(mktemp -d "$WORK/dest.XXXXXX")}
"$BIN" emulate --wifi --files "\$2" >/dev/null 2>&1 &
EMU=\$!
trap 'kill \$EMU 2>/dev/null || true; wait \$EMU 2>/dev/null || true; [ -n "\${4:-}" ] || rm -rf "\$DEST"' EXIT
for _ in \$(seq 100); do (echo >/dev/tcp/127.0.0.1/15740) 2>/dev/null && break; sleep 0.05; done
t0=\$(date +%s.%N)
if [ "\$1" = ours ]; then
    /usr/bin/time -f %M -o "$WORK/peak-rss" "$BIN" offload --once --camera 127.0.0.1 --dest "\$DEST" >/dev/null 2>&1
else
    (cd "\$DEST" && gphoto2 --quiet --port ptpip:127.0.0.1 --camera "PTP/IP Camera" --get-all-files --skip-existing >/dev/null 2>&1)
fi
t1=\$(date +%s.%N)
got=\$(find "\$DEST" -type f ! -name '.*' | wc -l)
[ "\$got" -eq "\$3" ] || { echo "\$1: got \$got of \$3 files" >&2; exit 1; }
echo "\$t1 - \$t0" | bc -l
EOF
    chmod +x "$WORK/offload-run.sh"
    RUNNER=("$WORK/offload-run.sh")
    if [ "$(id -u)" -eq 0 ] && need unshare; then
        RUNNER=(unshare -n "$WORK/offload-run.sh")
    else
        echo "note: not root, the emulator's SSDP announcements go to the default multicast route" >&2
    fi
    echo "== offload over loopback: $N files x $MIB MiB, $RUNS alternating runs"
    : >"$WORK/ours"; : >"$WORK/theirs"
    for _ in $(seq "$RUNS"); do
        "${RUNNER[@]}" ours "$FILES" "$N" >>"$WORK/ours"
        "${RUNNER[@]}" theirs "$FILES" "$N" >>"$WORK/theirs"
    done
    report "offload $((N * MIB)) MiB" "$WORK/ours" "$WORK/theirs"
    o=$(stats <"$WORK/ours" | cut -d' ' -f2); t=$(stats <"$WORK/theirs" | cut -d' ' -f2)
    printf "offload throughput (median): ours %.0f MiB/s, gphoto2 %.0f MiB/s\n" \
        "$(echo "$N * $MIB / $o" | bc -l)" "$(echo "$N * $MIB / $t" | bc -l)"
    echo "offload peak RSS (last run, ours): $(cat "$WORK/peak-rss") KiB"
    if [ -n "${LARGE_GIB:-}" ]; then
        BIG=$WORK/large-$LARGE_GIB
        if [ ! -d "$BIG" ]; then
            mkdir -p "$BIG.tmp"
            head -c $((LARGE_GIB << 30)) /dev/urandom >"$BIG.tmp/C0001.MP4"
            mv "$BIG.tmp" "$BIG"
        fi
        GOT=$WORK/large-dest
        rm -rf "$GOT"; mkdir -p "$GOT"
        echo "== offload of one $LARGE_GIB GiB file (ours)"
        secs=$("${RUNNER[@]}" ours "$BIG" 1 "$GOT")
        same=differs
        cmp -s "$BIG/C0001.MP4" "$(find "$GOT" -type f -name C0001.MP4)" && same=identical
        printf "large file: %.1f s (%.0f MiB/s, fsync included), peak RSS %s KiB, copy %s\n" \
            "$secs" "$(echo "$LARGE_GIB * 1024 / $secs" | bc -l)" "$(cat "$WORK/peak-rss")" "$same"
        rm -rf "$GOT"
        [ "$same" = identical ]
    fi
fi
