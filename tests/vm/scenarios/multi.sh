#!/bin/bash
# vm-timeout: 360
# Two cameras at once on a real kernel: dummy_hcd with two controllers (num=2), two
# `emulate --usb-gadget` bodies with different serials, v4l2loopback with two devices
# (video_nr=10,11). `webcam --camera all` starts with one body and picks up the second
# when it is plugged in later (hotplug); each device carries its own body's frames
# (rendered counters increasing per device); unplugging the first body leaves the
# second streaming while /dev/video10 gets placeholders; the first comes back on
# /dev/video10; Ctrl-C stops both cleanly (exit 0, both sessions closed).
. "$(dirname "$0")/../lib.sh"
need_cli webcam --camera
need_cli emulate --serial
K=$(uname -r)
mp() { modprobe -d "$VM_DIR/kroot" -S "$K" "$@"; }
# The small live view (640x424), passed through as MJPG: two bodies encoding test cards
# share one emulated CPU with the bridge, and a frame must arrive within the bridge's 2 s.
export W=640 H=424
SERIAL1=0000000000000001
SERIAL2=0000000000000002
V1=/dev/video10
V2=/dev/video11

# Put the one-controller, one-device setup back for the scenarios that follow.
restore_modules() {
	cleanup
	mp -r dummy_hcd 2>/dev/null && mp dummy_hcd || echo "could not reload dummy_hcd with one controller"
}
trap restore_modules EXIT

step "dummy_hcd num=2, v4l2loopback devices=2"
mp -r dummy_hcd && mp dummy_hcd num=2 || die "cannot load dummy_hcd num=2"
udcs_at_least() { [ "$(ls /sys/class/udc | wc -l)" -ge "$1" ]; }
wait_for 10 udcs_at_least 2 || die "no second UDC: $(ls /sys/class/udc)"
mp -r v4l2loopback && mp v4l2loopback devices=2 video_nr=10,11 exclusive_caps=1,1 max_buffers=8 \
	card_label=alpha-bridge-1,alpha-bridge-2 || die "cannot load v4l2loopback with two devices"
wait_for 10 test -e "$V2" || die "$V2 did not appear"
step "controllers: $(ls /sys/class/udc | tr '\n' ' ')"

# mjpg_ready: $VIDEO offers MJPG capture (the bridge writes to it)
mjpg_ready() {
	local f; f=$(v4l2-ctl -d "$VIDEO" --all 2>/dev/null) || return 1
	grep -q 'Video Capture' <<<"$f" && grep -q "'MJPG'" <<<"$f"
}
sony_count() { local n=0 v; for v in /sys/bus/usb/devices/*/idVendor; do [ "$(cat "$v")" = 054c ] && n=$((n + 1)); done; echo $n; }
sony_at_least() { [ "$(sony_count)" -ge "$1" ]; }
sony_serials() { cat /sys/bus/usb/devices/*/serial 2>/dev/null | tr '\n' ' '; }

start gadget1 "$AB" emulate --usb-gadget --serial "$SERIAL1"
wait_alive 30 gadget1 sony_at_least 1 || die "body 1 did not enumerate: $(tail -n 5 "$O/gadget1.log")"
step "body 1 enumerated; USB serials: $(sony_serials)"

start webcam "$AB" webcam --camera all --device auto --live-view-quality low --format mjpeg
VIDEO=$V1 wait_alive 60 webcam mjpg_ready || die "$V1 never offered MJPG capture: $(tail -n 5 "$O/webcam.log")"
grep -q "camera ILCE-6400 $SERIAL1 → $V1" "$O/webcam.log" || die "the log does not say that body 1 is on $V1: $(grep -- '→' "$O/webcam.log")"

step "body 2 plugged in later"
start gadget2 "$AB" emulate --usb-gadget --serial "$SERIAL2"
wait_alive 30 gadget2 sony_at_least 2 || die "body 2 did not enumerate: $(tail -n 5 "$O/gadget2.log")"
VIDEO=$V2 wait_alive 60 webcam mjpg_ready || die "$V2 never offered MJPG capture: $(tail -n 8 "$O/webcam.log")"
grep -q "camera ILCE-6400 $SERIAL2 → $V2" "$O/webcam.log" || die "the log does not say that body 2 is on $V2: $(grep -- '→' "$O/webcam.log")"
grep -- '→' "$O/webcam.log"

# grab NAME DEVICE COUNT: COUNT pictures from DEVICE (MJPG: the cameras' own JPEGs, or
# placeholder JPEGs) into $O/NAME.mjpeg, decoded by ffmpeg into $O/NAME.yuv
grab() {
	timeout 90 v4l2-ctl -d "$2" --stream-mmap --stream-count="$3" --stream-to="$O/$1.mjpeg" ||
		die "v4l2-ctl could not read $3 pictures from $2"
	ffmpeg -nostdin -v error -f mjpeg -i "$O/$1.mjpeg" -vf "scale=$W:$H" -pix_fmt yuyv422 -f rawvideo -y "$O/$1.yuv" ||
		die "ffmpeg could not decode the pictures from $2"
	frames_ok "$O/$1.yuv" "$W" "$H" "$3"
}

# live NAME MIN [AFTER]: at least MIN pictures of $O/NAME.yuv carry the body's counter,
# and those counters increase (above AFTER when given). Pictures without one are the
# "reconnecting" placeholder, which a starved device may show between live frames on
# an emulated CPU this slow. Sets LAST_COUNTER.
live() {
	local c
	c=$(counters "$O/$1.yuv" | tr '\n' ' ')
	step "counters in $1: $c"
	awk -v c="$c" -v min="$2" -v after="${3:-}" 'BEGIN { n = split(c, a, " "); k = 0; prev = -1;
		if (after != "") prev = after + 0;
		for (i = 1; i <= n; i++) { if (a[i] !~ /^[0-9]+$/) continue;
			if (a[i] + 0 <= prev) exit 1; prev = a[i] + 0; k++ }
		if (k < min) exit 1 }' || die "$1: fewer than $2 live pictures or counters not increasing (after ${3:-nothing}): $c"
	LAST_COUNTER=$(tr ' ' '\n' <<<"$c" | grep -E '^[0-9]+$' | tail -n 1)
}

step "both devices stream their own body"
grab one-a $V1 4
live one-a 2
a1=$LAST_COUNTER
grab two-a $V2 4
live two-a 2
b1=$LAST_COUNTER

step "body 1 unplugged: $V2 keeps going, $V1 shows placeholders"
GADGET1=$G/alpha-bridge-${SERIAL1: -12}
udc1=$(cat "$GADGET1/UDC" 2>/dev/null) || die "no gadget directory for body 1: $(ls "$G")"
[ -n "$udc1" ] || die "body 1's gadget is not bound"
echo "" >"$GADGET1/UDC"
wait_for 30 grep -q "lost the camera" "$O/webcam.log" || die "the bridge did not notice body 1 leaving"
grab two-c $V2 4
live two-c 2 "$b1"
b2=$LAST_COUNTER
grab one-away $V1 2
alive gadget2 || die "body 2's emulator exited"

step "body 1 plugged back in: live frames on $V1 again"
echo "$udc1" >"$GADGET1/UDC"
connects1() { [ "$(grep -c "serial $SERIAL1" "$O/webcam.log")" -ge 2 ]; }
wait_for 60 connects1 ||
	die "body 1 did not reconnect: $(tail -n 8 "$O/webcam.log")"
grab one-c $V1 4
live one-c 2
grab two-d $V2 3
live two-d 1 "$b2"
step "webcam RSS with two cameras: $(awk '/^VmRSS/ {print $2, $3}' "/proc/$(pid_of webcam)/status")"

step "Ctrl-C stops both"
stop webcam INT
[ "$STOP_RC" = 0 ] || die "webcam exited $STOP_RC on SIGINT (want 0)"
cat "$O/webcam.log" | tail -n 12
for g in gadget1 gadget2; do
	wait_for 5 grep -qiE 'close.?session|session closed' "$O/$g.log" || die "the $g log shows no CloseSession"
done
grep -q "ILCE-6400 $SERIAL1 → $V1" "$O/webcam.log" && grep -q "ILCE-6400 $SERIAL2 → $V2" "$O/webcam.log" ||
	die "the summary does not name each camera's device"
step "ok"
