# Sourced by the webcam_<profile> scenarios: one emulated body profile as a USB gadget
# -> `alpha-bridge webcam` -> v4l2loopback, read by v4l2-ctl and ffmpeg.
# profile_webcam MODEL PID ENDPOINTS: the gadget enumerates with product id PID and
# ENDPOINTS endpoints on its PTP interface (2: no interrupt endpoint), the bridge streams
# 1024x680 YUYV whose rendered counters increase, and Ctrl-C exits 0.
profile_webcam() {
	local model=$1 pid=$2 eps=$3 d
	need_cli emulate --model
	emulate --model "$model"
	d=$(sony_dev)
	[ "$(cat "$d/idProduct")" = "$pid" ] || die "$model: product id $(cat "$d/idProduct"), want $pid"
	[ "$(cat "$d/product")" = "$model" ] || die "product string '$(cat "$d/product")', want $model"
	[ "$(cat "$d:1.0/bNumEndpoints")" = "0$eps" ] ||
		die "$model: $(cat "$d:1.0/bNumEndpoints") endpoints on the PTP interface, want $eps"
	step "$model: PTP interface with $eps endpoints"
	start webcam "$AB" webcam --camera auto --device "$VIDEO"
	wait_alive 60 webcam capture_ready || die "$VIDEO never offered 1024x680 YUYV capture: $(tail -n 5 "$O/webcam.log")"
	step "v4l2-ctl --stream-mmap"
	timeout 30 v4l2-ctl -d "$VIDEO" --stream-mmap --stream-count=5 --stream-to="$O/v4l2.yuv" ||
		die "v4l2-ctl could not read 5 frames"
	frames_ok "$O/v4l2.yuv" 1024 680 5
	increasing "$O/v4l2.yuv"
	local first=$LAST_COUNTER
	step "ffmpeg -f v4l2"
	timeout 60 ffmpeg -nostdin -hide_banner -f v4l2 -i "$VIDEO" -frames:v 5 -f rawvideo -y "$O/ffmpeg.yuv" 2>"$O/ffmpeg.err" ||
		{ tail -n 5 "$O/ffmpeg.err"; die "ffmpeg could not read 5 frames"; }
	frames_ok "$O/ffmpeg.yuv" 1024 680 5
	increasing "$O/ffmpeg.yuv" "$first"
	grep -iE 'protocol|sdio|version' "$O/webcam.log" | head -n 3 || true
	stop webcam INT
	[ "$STOP_RC" = 0 ] || die "webcam exited $STOP_RC on SIGINT (want 0)"
	step "ok"
}
