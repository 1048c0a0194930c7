#!/bin/bash
# vm-timeout: 180
# (55.5 s on a quiet host; 99-107 s at host load 10-14, where ffmpeg alone takes ~50 s
# to start under TCG and the default 90 s cut it off twice, 2026-12-07)
# The bridge end to end on a real kernel: emulated body as a USB gadget -> `alpha-bridge
# webcam` -> v4l2loopback. v4l2-ctl and ffmpeg read 1024x680 YUYV frames whose
# rendered counters increase; Ctrl-C exits 0 and closes the PTP session; the recording
# decodes without errors; --frames N stops by itself.
. "$(dirname "$0")/../lib.sh"
need_cli webcam --record
emulate
start webcam "$AB" webcam --camera auto --device "$VIDEO" --record "$O/rec.mjpeg"
wait_alive 60 webcam capture_ready || die "$VIDEO never offered 1024x680 YUYV capture: $(tail -n 5 "$O/webcam.log")"
v4l2-ctl -d "$VIDEO" --get-fmt-video | sed -n '1,6p'

step "v4l2-ctl --stream-mmap"
timeout 30 v4l2-ctl -d "$VIDEO" --stream-mmap --stream-count=5 --stream-to="$O/v4l2.yuv" ||
	die "v4l2-ctl could not read 5 frames"
frames_ok "$O/v4l2.yuv" 1024 680 5
increasing "$O/v4l2.yuv"
first=$LAST_COUNTER

step "ffmpeg -f v4l2"
timeout 60 ffmpeg -nostdin -hide_banner -f v4l2 -i "$VIDEO" -frames:v 5 -f rawvideo -y "$O/ffmpeg.yuv" 2>"$O/ffmpeg.err" ||
	{ tail -n 5 "$O/ffmpeg.err"; die "ffmpeg could not read 5 frames"; }
grep -E 'Stream #0:0.*Video' "$O/ffmpeg.err"
grep -q 'yuyv422.*1024x680' "$O/ffmpeg.err" || die "ffmpeg does not see 1024x680 yuyv422"
frames_ok "$O/ffmpeg.yuv" 1024 680 5
increasing "$O/ffmpeg.yuv" "$first"

# A measurement, not a check: the webcam's memory with one camera in another process
# (the real USB path; the in-process emulator of the host tests adds its own buffers).
step "webcam RSS with one camera: $(awk '/^VmRSS/ {print $2, $3}' "/proc/$(pid_of webcam)/status")"

step "Ctrl-C"
stop webcam INT
[ "$STOP_RC" = 0 ] || die "webcam exited $STOP_RC on SIGINT (want 0)"
wait_for 5 grep -qiE 'close.?session|session closed' "$O/gadget.log" || die "the gadget log shows no CloseSession"
mjpeg_clean "$O/rec.mjpeg"
step "recorded $(stat -c %s "$O/rec.mjpeg") bytes, decodes cleanly"

step "--frames 20 stops by itself"
timeout 60 "$AB" webcam --camera auto --device none --record "$O/rec20.mjpeg" --frames 20 >"$O/frames.log" 2>&1 ||
	die "webcam --frames 20 failed or hung: $(tail -n 5 "$O/frames.log")"
mjpeg_clean "$O/rec20.mjpeg"
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 -f mjpeg "$O/rec20.mjpeg")
[ "$n" = 20 ] || die "recording has $n frames, expected 20"
step "ok"
