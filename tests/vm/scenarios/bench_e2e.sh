#!/bin/bash
# vm-timeout: 900
# A benchmark, not a check of speed: alpha-bridge against the recipe people use without
# it, `gphoto2 --capture-movie --stdout | ffmpeg -i - ... -f v4l2 /dev/videoN`, on the
# same emulated body (serving 60 pre-encoded 1024x680 test card frames from memory,
# `emulate --frames`, so the camera costs next to nothing) and the same v4l2 consumer
# (`v4l2-ctl --stream-mmap` into `alpha-bridge frame-check`, which counts new pictures
# by their test card counter). The peer's ffmpeg gets `-probesize 32k -analyzeduration 0`:
# by default it reads 5 MB of a pipe (~130 frames) before writing anything, seconds at a
# body's 30 fps but minutes at the rate gphoto2 reaches under TCG, which would measure
# the emulation rather than the recipe; the tuned peer starts as fast as it can. Runs alternate, E2E_ROUNDS rounds (2) of each:
#   fps       new pictures per second the consumer got over E2E_WINDOW seconds (15)
#   cpu/frame CPU (user+sys, /proc/PID/stat) per delivered picture: ours all threads;
#             the peer gphoto2 + ffmpeg together
#   start     process start -> the device offers capture (the writer streams)
#   first     process start (camera present) -> first live frame read from the device;
#             gphoto2's own time to its first preview (`--capture-preview`) alongside
# Prints one "e2e:" line per run and "e2e-median:" lines with the ratios; fails only when
# something is broken (nothing streams, no frame read), never on the numbers.
. "$(dirname "$0")/../lib.sh"
need_cli emulate --frames
[ -s "${FRAMES:-}" ] || die "no pre-encoded frames (\$FRAMES from run.sh): ${FRAMES:-unset}"
ROUNDS=${E2E_ROUNDS:-2}
WINDOW=${E2E_WINDOW:-15}
HZ=$(getconf CLK_TCK)
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
# cpu_ticks PID...: user+sys clock ticks of these processes (all their threads)
cpu_ticks() {
	local p t=0
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo "$t"
}
# one_frame: a live (counter-bearing) frame can be read from the device now
one_frame() (
	set +o pipefail
	timeout 10 v4l2-ctl -d "$VIDEO" --stream-mmap --stream-count=1 --stream-to=- 2>/dev/null |
		"$AB" frame-check --frames 1 - 2>/dev/null | grep -q 'no_counter 0'
)
# wait_ms NAME COMMAND...: polls COMMAND (every 20 ms) until it succeeds; prints the
# time in ms since T0, or fails after 240 s or when NAME exited.
wait_ms() {
	local name=$1; shift
	while ! "$@" >/dev/null 2>&1; do
		alive "$name" || { echo "FAIL: $name exited: $(tail -n 3 "$O/$name.log")" >&2; return 1; }
		[ $(($(now_ms) - T0)) -lt 240000 ] || { echo "FAIL: $name: still waiting after 240 s" >&2; return 1; }
		sleep 0.02
	done
	echo $(($(now_ms) - T0))
}
# the peer's processes (the pipeline's gphoto2 and ffmpeg)
peer_pids() { pgrep -P "$(pid_of peer)" | tr '\n' ' '; }

# measure NAME PIDS...: the consumer for WINDOW seconds; appends "fps cpu_ms_per_frame"
measure() {
	local name=$1; shift
	local c0 c1 t0 t1 line fps
	sleep 2 # past start-up transients
	c0=$(cpu_ticks "$@"); t0=$(now_ms)
	# (no pipefail here: v4l2-ctl ends by SIGPIPE when the judge has read enough)
	line=$(set +o pipefail; timeout $((WINDOW + 30)) v4l2-ctl -d "$VIDEO" --stream-mmap --stream-to=- 2>/dev/null |
		"$AB" frame-check --duration "$WINDOW" - 2>"$O/check-$name.err") ||
		die "$name: the consumer read nothing: $(tail -n 3 "$O/check-$name.err")"
	c1=$(cpu_ticks "$@"); t1=$(now_ms)
	fps=$(awk '{for (i = 1; i < NF; i++) if ($i == "fps") print $(i + 1)}' <<<"$line")
	awk -v f="$fps" 'BEGIN { exit !(f > 0) }' || die "$name: no new pictures: $line"
	# CPU rate over the window divided by the picture rate
	awk -v c=$((c1 - c0)) -v hz="$HZ" -v ms=$((t1 - t0)) -v f="$fps" \
		'BEGIN { printf "%.2f %.1f\n", f, (c / hz) / (ms / 1000) / f * 1000 }'
}

# A fresh /dev/video10 before each run, as the runner gives each scenario: with
# exclusive_caps=1 a node that had a writer stays in capture mode with its old format.
fresh_loopback() {
	local k; k=$(uname -r)
	wait_for 10 sh -c "! fuser -s $VIDEO" || true
	modprobe -d "$VM_DIR/kroot" -S "$k" -r v4l2loopback &&
		modprobe -d "$VM_DIR/kroot" -S "$k" v4l2loopback exclusive_caps=1 video_nr=10 card_label=alpha-bridge max_buffers=8 ||
		die "could not reload v4l2loopback"
	wait_for 10 test -e "$VIDEO" || die "$VIDEO did not come back"
}

run_ours() {
	fresh_loopback
	T0=$(now_ms)
	start ours "$AB" webcam --camera auto --device "$VIDEO"
	local s f m
	s=$(wait_ms ours capture_ready) || die "ours: $VIDEO never streamed"
	f=$(wait_ms ours one_frame) || die "ours: no live frame on $VIDEO"
	m=$(measure ours "$(pid_of ours)")
	stop ours INT
	echo "e2e: ours fps $(cut -d' ' -f1 <<<"$m") cpu_ms_per_frame $(cut -d' ' -f2 <<<"$m") start_ms $s first_ms $f" | tee -a "$O/runs"
}

run_peer() {
	fresh_loopback
	T0=$(now_ms)
	start peer bash -c "gphoto2 --capture-movie --stdout 2>'$O/peer-gphoto2.err' |
		ffmpeg -nostdin -hide_banner -loglevel info -probesize 32k -analyzeduration 0 -i - -vcodec rawvideo -pix_fmt yuyv422 -f v4l2 '$VIDEO'"
	local s f m
	s=$(wait_ms peer capture_ready) || die "peer: $VIDEO never streamed: $(tail -n 3 "$O/peer-gphoto2.err")"
	f=$(wait_ms peer one_frame) || die "peer: no live frame on $VIDEO"
	# shellcheck disable=SC2046
	m=$(measure peer $(peer_pids))
	local p
	for p in $(peer_pids); do kill -INT "$p" 2>/dev/null || true; done
	stop peer INT
	echo "e2e: peer fps $(cut -d' ' -f1 <<<"$m") cpu_ms_per_frame $(cut -d' ' -f2 <<<"$m") start_ms $s first_ms $f" | tee -a "$O/runs"
}

run_preview() {
	local t0 t1
	t0=$(now_ms)
	(cd "$O" && gphoto2 --capture-preview --filename "$O/preview.jpg" --force-overwrite) >"$O/preview.txt" 2>&1 ||
		die "gphoto2 --capture-preview failed: $(tail -n 3 "$O/preview.txt")"
	t1=$(now_ms)
	echo "e2e: gphoto2-preview first_ms $((t1 - t0))" | tee -a "$O/runs"
}

: >"$O/runs"
emulate --frames "$FRAMES"
for r in $(seq "$ROUNDS"); do
	step "round $r of $ROUNDS"
	run_peer
	run_ours
	run_preview
done

# Not measured: one more start of ours with timestamps (-v), the timeline of its time
# to first frame (USB open, handshake transactions, first GetObject, first write).
fresh_loopback
T0=$(now_ms)
start timeline "$AB" -v webcam --camera auto --device "$VIDEO"
wait_ms timeline one_frame >"$O/timeline-first-ms" || die "timeline run: no live frame"
stop timeline INT
step "timeline run: first live frame after $(cat "$O/timeline-first-ms") ms (log: $O/timeline.log)"

# Medians and ratios (ours / peer: below 1 is less time or CPU; fps: above 1 is more).
med() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { awk -v who="$1" -v k="$2" '$2 == who {for (i = 3; i < NF; i++) if ($i == k) print $(i + 1)}' "$O/runs"; }
for k in fps cpu_ms_per_frame start_ms first_ms; do
	o=$(col ours "$k" | med); p=$(col peer "$k" | med)
	echo "e2e-median: $k ours $o peer $p ratio $(awk -v o="$o" -v p="$p" 'BEGIN { printf "%.2f", o / p }') (ours/peer; spread ours $(col ours "$k" | sort -g | tr '\n' ' ')peer $(col peer "$k" | sort -g | tr '\n' ' '))"
done
o=$(col ours first_ms | med); g=$(col gphoto2-preview first_ms | med)
echo "e2e-median: first frame ours $o ms, gphoto2 --capture-preview $g ms: ratio $(awk -v o="$o" -v g="$g" 'BEGIN { printf "%.2f", o / g }')"
step "ok"
