#!/bin/bash
# Camera control through the real USB stack while the webcam streams: the emulated body
# as a USB gadget -> `alpha-bridge webcam` (MJPG) -> /dev/video10, read without a break by
# v4l2-ctl --stream-mmap. Meanwhile `alpha-bridge control set iso 400` is confirmed by
# the body (`control get iso` reads 400 back), and `control capture` saves a still that
# is byte for byte the one the body handed over (`emulate --served-stills` keeps a copy).
# Frames are counted before, during and after; timings are printed, not judged.
# vm-timeout: 240
. "$(dirname "$0")/../lib.sh"
need_cli control
need_cli emulate --served-stills
need_cli emulate --still-size
mkdir -p "$O/served" "$O/stills"
# Stills of 1024x680, not the default 3008x2000: under TCG on a loaded host the body
# took longer to render a 6-megapixel JPEG than the bridge waits for a busy body (10 s).
emulate --served-stills "$O/served" --still-size 1024x680
# The small live view (640x424) passed through as MJPG, as multi.sh does: the guest's
# one emulated CPU also runs the body, and on a loaded host decoding 1024x680 there
# starved the USB link until the bridge lost the body.
start webcam "$AB" webcam --camera auto --device "$VIDEO" --live-view-quality low --format mjpeg
mjpg_ready() {
	local f; f=$(v4l2-ctl -d "$VIDEO" --all 2>/dev/null) || return 1
	grep -q 'Video Capture' <<<"$f" && grep -q "'MJPG'" <<<"$f"
}
wait_alive 60 webcam mjpg_ready || die "$VIDEO never offered MJPG capture: $(tail -n 5 "$O/webcam.log")"
wait_alive 30 webcam grep -q 'camera control: ' "$O/webcam.log" ||
	die "the webcam opened no control socket: $(tail -n 5 "$O/webcam.log")"
grep -o 'socket [^)]*' "$O/webcam.log" | head -1

# v4l2-ctl streams for the whole scenario and prints "<" for every frame it dequeues
# (to its standard error, unbuffered); a sampler notes when that count changes, with
# the guest's clock, so frames are counted between any two moments.
start v4l2 v4l2-ctl -d "$VIDEO" --stream-mmap
STAMPS=$O/stamps.log
sample_frames() { # builtins only but sleep: the guest is slow enough
	local s t last=-1
	while :; do
		s=; IFS= read -r -d '' s <"$O/v4l2.log" || true
		t=${s//[^<]/}
		[ "${#t}" = "$last" ] || { last=${#t}; echo "$EPOCHREALTIME $last"; }
		sleep 0.2
	done
}
start stamps sample_frames
frames() { tail -n 1 "$STAMPS" | cut -d' ' -f2; }
frames_at_least() { [ "$(frames)" -ge "$1" ]; }
# frames_at T: frames read by time T
frames_at() { awk -v t="$1" '$1 <= t { n = $2 } END { print n + 0 }' "$STAMPS"; }
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
# ctl ARGS...: `alpha-bridge control --json ARGS`, the reply in $REPLY. On a loaded host
# the guest is slow enough for the bridge to lose the body and reconnect; a request in
# that window is refused with "try again then", and is tried again (up to 60 s).
RETRIES=0
ctl() {
	local end=$((SECONDS + 60))
	while :; do
		REPLY=$("$AB" control --json "$@") && return 0
		grep -q 'not connected.*try again' <<<"$REPLY" && [ "$SECONDS" -lt "$end" ] || return 1
		RETRIES=$((RETRIES + 1)); sleep 1
	done
}
# field NAME JSON: a top-level value of a compact JSON reply (strings without quotes)
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }

wait_alive 30 v4l2 frames_at_least 3 || die "v4l2-ctl read fewer than 3 frames: $(tail -n 3 "$O/v4l2.log")"
sleep 2
t_start=$EPOCHREALTIME

step "control set iso 400"
t0=$EPOCHREALTIME
ctl set iso 400 || die "control set iso 400 failed: $REPLY"
r=$REPLY
set_wall=$(ms_since "$t0")
[ "$(field ok "$r")" = true ] && [ "$(field value "$r")" = 400 ] || die "the body did not confirm iso 400: $r"
ctl get iso || die "control get iso failed: $REPLY"
[ "$(field value "$REPLY")" = 400 ] || die "control get iso shows $REPLY, want 400"
step "iso 400 confirmed by the body in $(field ms "$r") ms (command $set_wall ms); control get iso: $(field value "$REPLY")"

step "control capture"
t_cap=$EPOCHREALTIME
ctl capture --stills "$O/stills" || die "control capture failed: $REPLY"
r=$REPLY
cap_wall=$(ms_since "$t_cap")
t_capped=$EPOCHREALTIME
[ "$(field ok "$r")" = true ] || die "capture failed: $r"
saved=$(field path "$r")
[ -f "$saved" ] || die "the reply names $saved, which is not there: $r"
wait_for 10 test -s "$O/served/served.JPG" || die "the body logged no served still: $(ls "$O/served")"
cmp "$saved" "$O/served/served.JPG" || die "the saved still differs from the one the body served"
[ "$(ls -A "$O/stills" | wc -l)" = 1 ] || die "more than the still in $O/stills: $(ls -A "$O/stills")"
[ "$(ls -A "$O/served" | wc -l)" = 1 ] || die "the body served more than one still: $(ls -A "$O/served")"
step "saved $(basename "$saved"), $(stat -c %s "$saved") bytes, identical to the served still; body: $(field ms "$r") ms, command $cap_wall ms, live-view gap $(field live_view_gap_ms "$r") ms"

n_after=$(frames)
wait_alive 30 v4l2 frames_at_least $((n_after + 3)) || die "frames stopped after the capture: $(frames) read"
t_end=$EPOCHREALTIME
stop stamps TERM
stop v4l2 TERM

before=$(frames_at "$t_start")
during_set=$(($(frames_at "$t_cap") - before))
during_cap=$(($(frames_at "$t_capped") - before - during_set))
after=$(($(frames_at "$t_end") - before - during_set - during_cap))
# The longest time without a new frame at /dev/video10 from the capture request to the
# second frame after its reply (live frames, or the webcam's placeholder while the
# body holds live view up); to the sampler's 0.2 s.
dev_gap=$(awk -v a="$t_cap" -v b="$t_capped" '$1 <= a { p = $1; next }
	{ if (p != "" && $1 - p > g) g = $1 - p; p = $1; if ($1 > b && ++n >= 2) exit }
	END { printf "%.0f", g * 1000 }' "$STAMPS")
step "requests tried again while the bridge reconnected to the body: $RETRIES"
step "frames at $VIDEO: $before before, $during_set while setting, $during_cap during the capture ($cap_wall ms), $after after; longest wait for a frame around the capture $dev_gap ms"
[ "$before" -ge 3 ] || die "only $before frames before the first control command"
[ "$after" -ge 3 ] || die "only $after frames after the capture"
# The stream never stopped: every frame interval around the capture is under 10 s
# (the webcam shows its placeholder while the body holds live view up).
[ "$dev_gap" -lt 10000 ] || die "no frame at $VIDEO for $dev_gap ms around the capture"

step "Ctrl-C"
stop webcam INT
[ "$STOP_RC" = 0 ] || die "webcam exited $STOP_RC on SIGINT (want 0)"
grep -E 'camera control:|still' "$O/webcam.log" | tail -n 3
step "ok"
