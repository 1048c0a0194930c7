#!/bin/bash
# vm-timeout: 900
# Picture integrity on the real kernel: every picture a consumer reads from the
# v4l2loopback device must be one whole frame the camera served (no tearing between two
# frames, no half-written buffer). The emulated body serves 300 pre-encoded test card
# frames in a loop (`emulate --frames`); `alpha-bridge webcam` writes them to the device;
# `v4l2-ctl --stream-mmap` reads them and `alpha-bridge frame-check --served` compares
# each picture with the served frame of the same counter (8x8-block thumbnails of every
# byte, tolerance 2 per byte). One consumer keeps up (it waits for every picture), one
# takes twice the fast one's picture interval per picture (at least INTEGRITY_DELAY_MS,
# 250), so the bridge writes while that consumer still holds buffers. At least
# INTEGRITY_FAST (600) + INTEGRITY_SLOW (400) pictures; any mismatch fails the scenario.
. "$(dirname "$0")/../lib.sh"
need_cli emulate --frames
[ -s "${FRAMES:-}" ] || die "no pre-encoded frames (\$FRAMES from run.sh): ${FRAMES:-unset}"
FAST=${INTEGRITY_FAST:-600}
SLOW=${INTEGRITY_SLOW:-400}
DELAY=${INTEGRITY_DELAY_MS:-250}
emulate --frames "$FRAMES"
start webcam "$AB" webcam --camera auto --device "$VIDEO"
wait_alive 60 webcam capture_ready || die "$VIDEO never offered 1024x680 YUYV capture: $(tail -n 5 "$O/webcam.log")"

# check NAME COUNT DELAY_MS: COUNT pictures through one consumer, all whole served frames
check() {
	local line
	step "$1 consumer: $2 pictures, ${3} ms per picture"
	# (no pipefail here: v4l2-ctl ends by SIGPIPE when the judge has read enough)
	line=$(set +o pipefail; timeout 900 v4l2-ctl -d "$VIDEO" --stream-mmap --stream-to=- 2>"$O/v4l2-$1.err" |
		"$AB" frame-check --served "$FRAMES" --frames "$2" --delay-ms "$3" - 2>"$O/check-$1.err") ||
		{ head -n 20 "$O/check-$1.err"; die "$1 consumer: pictures that are not whole served frames (or none read): $line"; }
	step "$1 consumer: $line"
	read -r _ n _ new _ fps _ _ _ bad <<<"$line" # fps: read by the caller
	[ "$n" -ge "$2" ] || die "$1 consumer read only $n of $2 pictures"
	[ "$bad" = 0 ] || die "$1 consumer: $bad mismatches"
	echo "integrity: $1 pictures $n new $new fps $fps mismatches $bad" | tee -a "$O/summary"
}
check fast "$FAST" 0
# slower than what the bridge delivers: twice the fast consumer's picture interval
DELAY=$(awk -v d="$DELAY" -v f="$fps" 'BEGIN { m = (f > 0) ? 2000 / f : d; printf "%d", (m > d) ? m : d }')
check slow "$SLOW" "$DELAY"
alive webcam || die "the webcam exited: $(tail -n 5 "$O/webcam.log")"
stop webcam INT
[ "$STOP_RC" = 0 ] || die "webcam exited $STOP_RC on SIGINT"
step "ok: $((FAST + SLOW)) pictures compared, zero mismatches"
