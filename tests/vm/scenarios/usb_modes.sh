#!/bin/bash
# `alpha-bridge list` (and `webcam` where it must refuse) against the emulated body in
# each USB mode on a real USB bus: PC Remote is ready, MTP and Mass Storage name the menu
# path to PC Remote (Mass Storage as the mode `pair` uses), USB Streaming is recognised
# by its video-class interfaces, with the PTP interface next to them still offered.
# USB only (`list --no-network`): list.sh covers the network search.
. "$(dirname "$0")/../lib.sh"
need_cli emulate --usb-gadget
"$AB" emulate --help | grep -q 'uvc' || die "emulate has no --mode uvc yet"

# list_in MODE: starts the body in MODE, runs list into $O/list-MODE.txt
list_in() {
	emulate --mode "$1"
	step "alpha-bridge list ($1)"
	"$AB" list --no-network | tee "$O/list-$1.txt"
	L=$O/list-$1.txt
}
done_with() { stop gadget INT; [ "$STOP_RC" = 0 ] || die "the $1 body exited $STOP_RC"; wait_for 10 sh -c '! grep -qx 054c /sys/bus/usb/devices/*/idVendor' || die "the $1 body did not leave the bus"; }
# webcam_refuses MODE TEXT: webcam exits 1 saying TEXT and what to change
webcam_refuses() {
	step "webcam refuses the body in $1"
	local rc=0 f=$O/webcam-$1.txt
	timeout 60 "$AB" webcam --device none --record "$O/$1.mjpeg" --duration 5s >"$f" 2>&1 || rc=$?
	cat "$f"
	[ "$rc" = 1 ] || die "webcam against $1 exited $rc, not 1"
	grep -qF -- "$2" "$f" || die "webcam against $1 does not say: $2"
	grep -q "change the USB Connection setting to PC Remote" "$f" || die "webcam does not say what to change"
}
has() { grep -qF -- "$1" "$L" || die "list in $MODE mode does not say: $1"; }

MODE=ptp; list_in ptp
has "mode     PC Remote"
has "ready    alpha-bridge webcam"
! grep -q "change " "$L" || die "PC Remote needs no change: $(cat "$L")"
done_with ptp

MODE=mtp; list_in mtp
has "mode     MTP (file transfer)"
has "change the USB Connection setting to PC Remote"
has "MENU → Setup → USB Connection → \"PC Remote\""
has "(menu names vary by model)"
webcam_refuses mtp "MTP device"
done_with mtp

MODE=msc; list_in msc
has "mode     Mass Storage"
has "Mass Storage is the mode \`alpha-bridge pair\` uses"
has "change the USB Connection setting to PC Remote"
webcam_refuses msc "has no PTP interface for live view (USB mode: Mass Storage)"
done_with msc

MODE=uvc; list_in uvc
D=$(sony_dev)
[ "$(cat "$D:1.0/bInterfaceClass")" = 0e ] || die "interface 0 is class $(cat "$D:1.0/bInterfaceClass"), not video"
[ "$(cat "$D:1.2/bInterfaceClass")" = 06 ] || die "interface 2 is class $(cat "$D:1.2/bInterfaceClass"), not still image"
has "mode     PC Remote"
has "video    the camera is also a webcam (USB Streaming"
has "alpha-bridge is not needed for video"
has "its PTP interface (PC Remote) still gives control"
"$AB" list --json --no-network >"$O/list-uvc.json"
grep -q '"usb_mode":"ptp"' "$O/list-uvc.json" || die "json: $(cat "$O/list-uvc.json")"
done_with uvc
step "ok"
