#!/bin/bash
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
wait_for 10 test "$(ls /sys/class/udc | wc -l)" -ge 2 || die "no second UDC: $(ls /sys/class/udc)"
mp -r v4l2loopback && mp v4l2loopback devices=2 video_nr=10,11 exclusive_caps=1,1 \
	card_label=alpha-bridge-1,alpha-bridge-2 || die "cannot load v4l2loopback with two devices"
wait_for 10 test -e "$V2" || die "$V2 did not appear"
step "controllers: $(ls /sys/class/udc | tr '\n' ' ')"

sony_count() { local n=0 v; for v in /sys/bus/usb/devices/*/idVendor; do [ "$(cat "$v")" = 054c ] && n=$((n + 1)); done; echo $n; }
sony_serials() { cat /sys/bus/usb/devices/*/serial 2>/dev/null | tr '\n' ' '; }

start gadget1 "$AB" emulate --usb-gadget --serial "$SERIAL1"
wait_alive 30 gadget1 test "$(sony_count)" -ge 1 || die "body 1 did not enumerate: $(tail -n 5 "$O/gadget1.log")"
step "body 1 enumerated; USB serials: $(sony_serials)"

start webcam "$AB" webcam --camera all --device auto
VIDEO=$V1 wait_alive 60 webcam capture_ready || die "$V1 never offered 1024x680 YUYV: $(tail -n 5 "$O/webcam.log")"
grep -q "camera ILCE-6400 $SERIAL1 → $V1" "$O/webcam.log" || die "the log does not say that body 1 is on $V1: $(grep -- '→' "$O/webcam.log")"

step "body 2 plugged in later"
start gadget2 "$AB" emulate --usb-gadget --serial "$SERIAL2"
wait_alive 30 gadget2 test "$(sony_count)" -ge 2 || die "body 2 did not enumerate: $(tail -n 5 "$O/gadget2.log")"
VIDEO=$V2 wait_alive 60 webcam capture_ready || die "$V2 never offered 1024x680 YUYV: $(tail -n 8 "$O/webcam.log")"
grep -q "camera ILCE-6400 $SERIAL2 → $V2" "$O/webcam.log" || die "the log does not say that body 2 is on $V2: $(grep -- '→' "$O/webcam.log")"
grep -- '→' "$O/webcam.log"

# grab NAME DEVICE COUNT: COUNT frames from DEVICE into $O/NAME.yuv
grab() {
	timeout 60 v4l2-ctl -d "$2" --stream-mmap --stream-count="$3" --stream-to="$O/$1.yuv" ||
		die "v4l2-ctl could not read $3 frames from $2"
	frames_ok "$O/$1.yuv" 1024 680 "$3"
}

step "both devices stream their own body"
grab one-a $V1 4
increasing "$O/one-a.yuv"
a1=$LAST_COUNTER
grab two-a $V2 4
increasing "$O/two-a.yuv"
b1=$LAST_COUNTER
grab one-b $V1 3
increasing "$O/one-b.yuv" "$a1"
grab two-b $V2 3
increasing "$O/two-b.yuv" "$b1"
b2=$LAST_COUNTER

step "body 1 unplugged: $V2 keeps going, $V1 shows placeholders"
GADGET1=$G/alpha-bridge-${SERIAL1: -12}
udc1=$(cat "$GADGET1/UDC" 2>/dev/null) || die "no gadget directory for body 1: $(ls "$G")"
[ -n "$udc1" ] || die "body 1's gadget is not bound"
echo "" >"$GADGET1/UDC"
wait_for 30 grep -q "lost the camera" "$O/webcam.log" || die "the bridge did not notice body 1 leaving"
sleep 2
grab two-c $V2 4
increasing "$O/two-c.yuv" "$b2"
b3=$LAST_COUNTER
grab one-away $V1 3
alive gadget2 || die "body 2's emulator exited"

step "body 1 plugged back in: live frames on $V1 again"
echo "$udc1" >"$GADGET1/UDC"
wait_for 60 test "$(grep -c "serial $SERIAL1" "$O/webcam.log")" -ge 2 ||
	die "body 1 did not reconnect: $(tail -n 8 "$O/webcam.log")"
sleep 2
grab one-c $V1 4
increasing "$O/one-c.yuv"
grab two-d $V2 3
increasing "$O/two-d.yuv" "$b3"
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
