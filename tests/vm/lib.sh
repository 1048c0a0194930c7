# Sourced by every scenario (runs inside the VM). Provides: $AB (the alpha-bridge
# binary), $O (this scenario's output dir, on the shared 9p dir), step/die/wait_for,
# start (a background process whose output is logged and which is stopped with SIGINT
# at exit), and helpers for the emulated camera and the loopback device.
set -euo pipefail
SCENARIO=$(basename "$0" .sh)
O=$OUT/$SCENARIO
mkdir -p "$O"
AB=$BIN/alpha-bridge
EXAMPLE_GADGET=$EXAMPLES/usb_gadget
VIDEO=/dev/video10
G=/sys/kernel/config/usb_gadget
export RUST_LOG=${RUST_LOG:-info}

# libgphoto2 opens every camera and port driver at start; under TCG over 9p that is
# seconds per call. Its Sony and generic PTP code is all in ptp2, the port is usb1.
gp_libs() {
	local cam port
	cam=$(ls -d /usr/lib/*/libgphoto2/*/ 2>/dev/null | head -1)
	port=$(ls -d /usr/lib/*/libgphoto2_port/*/ 2>/dev/null | head -1)
	[ -f "$cam/ptp2.so" ] && [ -f "$port/usb1.so" ] || return 0
	mkdir -p /tmp/gp/cam /tmp/gp/port
	ln -sf "$cam/ptp2.so" /tmp/gp/cam/ && ln -sf "$port/usb1.so" /tmp/gp/port/
	export CAMLIBS=/tmp/gp/cam IOLIBS=/tmp/gp/port
}
gp_libs

up() { cut -d' ' -f1 /proc/uptime; }
step() { echo "--- [$(up)] $*"; }
die() { echo "FAIL: $*"; exit 1; }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds (wall
# clock: a loaded host makes the guest slow, so don't count ticks)
wait_for() {
	local end=$((SECONDS + $1)); shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1; sleep 0.1
	done
}

declare -A PIDS=()
ORDER=() # start order, so cleanup stops the last started first (the bridge before the body)
# start NAME COMMAND...: runs COMMAND in the background, output in $O/NAME.log
start() {
	local name=$1; shift
	"$@" >"$O/$name.log" 2>&1 &
	PIDS[$name]=$!
	ORDER=("$name" "${ORDER[@]}")
	step "started $name (pid $!): $*"
}
pid_of() { echo "${PIDS[$1]}"; }
alive() { kill -0 "${PIDS[$1]}" 2>/dev/null; }
# wait_alive SECONDS NAME COMMAND...: wait_for, but give up as soon as NAME has exited
wait_alive() {
	local end=$((SECONDS + $1)) name=$2; shift 2
	while ! "$@" >/dev/null 2>&1; do
		alive "$name" || { echo "FAIL: $name exited: $(tail -n 3 "$O/$name.log")"; return 1; }
		[ "$SECONDS" -lt "$end" ] || return 1; sleep 0.1
	done
}
# stop NAME [SIGNAL]: signals (INT by default), waits up to 10 s; exit code in $STOP_RC
STOP_RC=0
stop() {
	local name=$1 sig=${2:-INT} pid=${PIDS[$1]} end=$((SECONDS + 10)) rc=0
	kill -s "$sig" "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "FAIL: $name ignored SIG$sig for 10 s" >&2; fi
	wait "$pid" || rc=$?
	unset "PIDS[$name]"
	STOP_RC=$rc
}
cleanup() {
	local n
	for n in "${ORDER[@]}"; do [ -n "${PIDS[$n]:-}" ] && { stop "$n" || true; }; done
	for n in "$O"/*.log; do [ -f "$n" ] && { echo "=== $n"; tail -n 30 "$n"; }; done
}
trap cleanup EXIT

# need_cli SUBCOMMAND [FLAG]: fails clearly when the binary lacks a subcommand/flag
need_cli() {
	[ -x "$AB" ] || die "$AB is missing: build with cargo build --bins"
	local help
	"$AB" --help 2>/dev/null | grep -qE "^ +$1( |$)" || die "alpha-bridge has no '$1' subcommand yet"
	help=$("$AB" "$1" --help 2>&1) || die "alpha-bridge has no '$1' subcommand yet"
	if [ -n "${2:-}" ]; then
		grep -q -- "$2" <<<"$help" || die "alpha-bridge $1 has no $2 option yet"
	fi
}

sony_dev() { # sysfs dir of the enumerated Sony device
	local v
	for v in /sys/bus/usb/devices/*/idVendor; do
		[ "$(cat "$v")" = 054c ] && { dirname "$v"; return 0; }
	done
	return 1
}

# emulate [ARGS...]: starts the emulated body as a USB gadget (the real CLI, or the
# gadget test bench with VM_GADGET=example) and waits until the host enumerated it
emulate() {
	if [ "${VM_GADGET:-cli}" = example ]; then
		local mode=ptp
		[ "${1:-}" = --mode ] && mode=$2
		# shellcheck disable=SC2086
		start gadget "$EXAMPLE_GADGET" --mode "$mode" ${EXAMPLE_ARGS:-}
	else
		need_cli emulate --usb-gadget
		start gadget "$AB" emulate --usb-gadget "$@"
	fi
	wait_alive 30 gadget sony_dev || die "the emulated camera did not enumerate: $(tail -n 5 "$O/gadget.log")"
	local d; d=$(sony_dev)
	wait_for 10 test -e "$d:1.0/bInterfaceClass" || die "no interface on $d"
	step "enumerated $d: $(cat "$d/idVendor"):$(cat "$d/idProduct") '$(cat "$d/manufacturer")' '$(cat "$d/product")' speed $(cat "$d/speed")"
}

gadget_udc_file() { ls "$G"/*/UDC | head -1; }
unplug() { local f; f=$(gadget_udc_file); cat "$f" >"$O/udc-name"; echo "" >"$f"; step "cable pulled ($f)"; }
replug() { cat "$O/udc-name" >"$(gadget_udc_file)"; step "cable plugged back"; }

# frames_ok FILE W H COUNT: FILE holds COUNT YUYV frames of W x H
frames_ok() {
	local size; size=$(stat -c %s "$1")
	[ "$size" -eq $(($2 * $3 * 2 * $4)) ] || die "$1: $size bytes, expected $4 frames of $2x$3 YUYV"
}

# capture_ready: the loopback device offers 1024x680 YUYV capture (exclusive_caps
# switches to CAPTURE only once the bridge writes, so readers must wait for this)
capture_ready() {
	local f; f=$(v4l2-ctl -d "$VIDEO" --all 2>/dev/null) || return 1
	grep -q 'Video Capture' <<<"$f" && grep -q "Width/Height *: *${W:-1024}/${H:-680}" <<<"$f" &&
		grep -q "'YUYV'" <<<"$f"
}

# counters FILE: the frame counter the emulator renders into each YUYV frame of FILE,
# one line per frame ("none" when a frame has no readable counter), read back with the
# library's testcard::read_counter_yuyv through a hidden CLI helper
counters() {
	"$AB" testcard-counter --size "${W:-1024}x${H:-680}" "$1" ||
		die "alpha-bridge has no working 'testcard-counter --size WxH FILE' helper yet"
}

# increasing FILE [AFTER]: every frame of FILE carries a counter, counters never go
# back, and the first is above AFTER (the last counter of an earlier capture) when
# given. Live view under TCG runs at a few frames per second and the loopback device
# may repeat a frame, so "moving" is judged between captures taken seconds apart.
# Sets LAST_COUNTER.
LAST_COUNTER=
increasing() {
	local c
	counters "$1" >"$O/counters.txt"
	c=$(tr '\n' ' ' <"$O/counters.txt")
	step "counters in $(basename "$1"): $c"
	awk -v c="$c" -v after="${2:-}" 'BEGIN { n = split(c, a, " "); if (n < 1) exit 1;
		for (i = 1; i <= n; i++) if (a[i] !~ /^[0-9]+$/) exit 1;
		for (i = 2; i <= n; i++) if (a[i] + 0 < a[i-1] + 0) exit 1;
		if (after != "" && a[1] + 0 <= after + 0) exit 1 }' ||
		die "frame counters in $1 are missing or not increasing (after ${2:-nothing}): $c"
	LAST_COUNTER=$(tail -n 1 "$O/counters.txt")
}

# mjpeg_clean FILE: ffmpeg decodes the recording with zero errors
mjpeg_clean() {
	[ -s "$1" ] || die "recording $1 is empty or missing"
	ffmpeg -nostdin -v error -xerror -err_detect explode -f mjpeg -i "$1" -f null - >"$O/decode.err" 2>&1 ||
		die "ffmpeg failed to decode $1: $(head -n 5 "$O/decode.err")"
	[ ! -s "$O/decode.err" ] || die "ffmpeg reported errors decoding $1: $(head -n 5 "$O/decode.err")"
}
