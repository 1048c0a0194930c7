#!/bin/bash
# Pulling the cable while the webcam runs: /dev/video10 keeps delivering frames (the
# placeholder), and live frames come back after re-plugging without restarting the
# bridge.
. "$(dirname "$0")/../lib.sh"
need_cli webcam
emulate
start webcam "$AB" webcam --camera auto --device "$VIDEO"
wait_alive 60 webcam capture_ready || die "$VIDEO never offered capture: $(tail -n 5 "$O/webcam.log")"
timeout 30 v4l2-ctl -d "$VIDEO" --stream-mmap --stream-count=3 --stream-to="$O/before.yuv" || die "no frames before unplugging"
increasing "$O/before.yuv"
before=$LAST_COUNTER
WEBCAM=$(pid_of webcam)

unplug
wait_for 10 sh -c '! grep -qx 054c /sys/bus/usb/devices/*/idVendor' || die "the device is still on the bus"
sleep 1
step "frames while unplugged"
timeout 30 v4l2-ctl -d "$VIDEO" --stream-mmap --stream-count=5 --stream-to="$O/unplugged.yuv" ||
	die "$VIDEO stopped delivering frames while the camera was unplugged"
frames_ok "$O/unplugged.yuv" 1024 680 5
counters "$O/unplugged.yuv" >"$O/unplugged.counters"
step "counters while unplugged (placeholder): $(tr '\n' ' ' <"$O/unplugged.counters")"

replug
wait_for 30 sony_dev || die "the device did not come back"
# The placeholder is the last live frame dimmed, so its counter may still read back:
# live frames are the ones whose counter differs from it. The body starts a new session
# after re-plugging, so its counter restarts like a camera that was switched off and on.
placeholder=$(tail -n 1 "$O/unplugged.counters")
live_again() {
	timeout 20 v4l2-ctl -d "$VIDEO" --stream-mmap --stream-count=4 --stream-to="$O/after.yuv" >/dev/null 2>&1 &&
		counters "$O/after.yuv" | awk -v ph="$placeholder" '!/^[0-9]+$/ || $1 == ph { bad = 1 } END { exit bad }'
}
wait_for 60 live_again || die "live frames did not resume after re-plugging: $(tail -n 5 "$O/webcam.log")"
increasing "$O/after.yuv"
sleep 2
timeout 30 v4l2-ctl -d "$VIDEO" --stream-mmap --stream-count=2 --stream-to="$O/later.yuv" || die "frames stopped after re-plugging"
increasing "$O/later.yuv" "$LAST_COUNTER"
step "counter before unplugging $before, after re-plugging $LAST_COUNTER"
kill -0 "$WEBCAM" || die "the bridge exited"
[ "$(pid_of webcam)" = "$WEBCAM" ] || die "the bridge was restarted"
stop webcam INT
[ "$STOP_RC" = 0 ] || die "webcam exited $STOP_RC on SIGINT"
step "ok"
