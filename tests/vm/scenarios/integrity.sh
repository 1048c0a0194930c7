#!/bin/bash
# vm-timeout: 1800
# Picture integrity on the real kernel: every picture a consumer reads from the
# v4l2loopback device must be one whole frame the camera served (no tearing between two
# frames, no half-written buffer). The emulated body serves 60 pre-encoded test card
# frames in a loop (`emulate --frames`); `alpha-bridge webcam` writes them to the device,
# loaded as the shipped udev/v4l2loopback.conf loads it (max_buffers=8); the consumer,
# `alpha-bridge frame-check --device`, streams it with mmap buffers (4, as v4l2-ctl and
# Chrome ask), copies each picture out right after VIDIOC_DQBUF, gives the buffer back
# and then compares the copy with the served frame of the same counter (8x8-block
# thumbnails of every byte, tolerance 2 per byte; the bridge's placeholder for that frame,
# written when the camera stalls under TCG, is whole and counted apart). One consumer keeps up (it asks for the
# next picture as soon as it has judged one), one sleeps twice the fast one's picture
# interval per picture (at least INTEGRITY_DELAY_MS, 250), so it dequeues behind the
# writer. At least INTEGRITY_FAST (600) + INTEGRITY_SLOW (400) pictures; any mismatch
# fails the scenario. (A consumer that keeps a dequeued buffer for longer than the ring
# lasts, e.g. `v4l2-ctl --stream-to=-` blocked on a slow pipe, can see v4l2loopback
# rewrite it whatever the writer does: see docs/performance.md, "Picture integrity".)
. "$(dirname "$0")/../lib.sh"
need_cli emulate --frames
[ -s "${FRAMES:-}" ] || die "no pre-encoded frames (\$FRAMES from run.sh): ${FRAMES:-unset}"
FAST=${INTEGRITY_FAST:-600}
SLOW=${INTEGRITY_SLOW:-400}
DELAY=${INTEGRITY_DELAY_MS:-250}
MAXBUF=$(cat /sys/module/v4l2loopback/parameters/max_buffers)
step "v4l2loopback max_buffers=$MAXBUF"
emulate --frames "$FRAMES"
start webcam "$AB" webcam --camera auto --device "$VIDEO"
wait_alive 60 webcam capture_ready || die "$VIDEO never offered 1024x680 YUYV capture: $(tail -n 5 "$O/webcam.log")"

# check NAME COUNT DELAY_MS: COUNT pictures through one consumer, all whole served frames
check() {
	local line
	step "$1 consumer: $2 pictures, ${3} ms per picture"
	line=$(timeout 1200 "$AB" frame-check --served "$FRAMES" --frames "$2" --delay-ms "$3" \
		--device "$VIDEO" 2>"$O/check-$1.err") ||
		{ head -n 20 "$O/check-$1.err"; die "$1 consumer: pictures that are not whole served frames (or none read): $line"; }
	step "$1 consumer: $line ($(head -n 1 "$O/check-$1.err"); device ring $(cat /sys/devices/virtual/video4linux/video10/buffers))"
	read -r _ n _ new _ fps _ _ _ bad _ ph <<<"$line" # fps: read by the caller
	[ "$n" -ge "$2" ] || die "$1 consumer read only $n of $2 pictures"
	[ "$bad" = 0 ] || die "$1 consumer: $bad mismatches"
	echo "integrity: $1 pictures $n new $new fps $fps delay_ms $3 mismatches $bad placeholders $ph max_buffers $MAXBUF" | tee -a "$O/summary"
}
check fast "$FAST" 0
# slower than what the bridge delivers: twice the fast consumer's picture interval
DELAY=$(awk -v d="$DELAY" -v f="$fps" 'BEGIN { m = (f > 0) ? 2000 / f : d; printf "%d", (m > d) ? m : d }')
check slow "$SLOW" "$DELAY"
alive webcam || die "the webcam exited: $(tail -n 5 "$O/webcam.log")"
stop webcam INT
[ "$STOP_RC" = 0 ] || die "webcam exited $STOP_RC on SIGINT"
step "ok: $((FAST + SLOW)) pictures compared, zero mismatches"
