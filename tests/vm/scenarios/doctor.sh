#!/bin/bash
# `alpha-bridge doctor` on a real kernel. The emulated body enumerated on the dummy_hcd
# bus must be seen in PC Remote mode with access to its node, and v4l2loopback (loaded by
# the runner with exclusive_caps=1 at /dev/video10) must pass; with the shipped udev rules
# installed, a paired config and room for offload, every check passes (exit 0). Reloaded
# without exclusive_caps, that line fails and doctor exits 1 (the runner reloads the
# module with exclusive_caps=1 after each scenario).
. "$(dirname "$0")/../lib.sh"
need_cli doctor
emulate
# The guest's /etc is a RAM overlay: this installs nothing on the host.
mkdir -p /etc/udev/rules.d
cp "$REPO/udev/60-alpha-bridge.rules" "$REPO/udev/70-alpha-bridge-gvfs.rules" /etc/udev/rules.d/
export XDG_CONFIG_HOME=$O/config
mkdir -p "$XDG_CONFIG_HOME/alpha-bridge" "$O/pictures"
echo 'guid = "0000000000000000ffff0242ac110002"' >"$XDG_CONFIG_HOME/alpha-bridge/config.toml"

doctor() { # doctor NAME: runs it, output in $O/NAME.txt, exit code in $RC
	RC=0
	timeout 60 "$AB" doctor --dest "$O/pictures" >"$O/$1.txt" 2>"$O/$1.err" || RC=$?
	cat "$O/$1.txt" "$O/$1.err"
}
has() { grep -qE "$2" "$O/$1.txt" || die "no line /$2/ in doctor's output"; }

step "alpha-bridge doctor on a ready system"
doctor ready
has ready '^ok +camera +ILCE-6400 serial .*\(usb [0-9]{3}/[0-9]{3}\): PC Remote, ready for alpha-bridge webcam$'
has ready '^ok +usb access +read/write access to /dev/bus/usb/[0-9]{3}/[0-9]{3}$'
has ready '^ok +in use +no other program holds the camera$'
has ready '^ok +v4l2loopback +loaded: /dev/video10 "alpha-bridge"$'
has ready '^ok +exclusive_caps +on for /dev/video10$'
has ready '^ok +video device +read/write access to /dev/video10$'
has ready '^ok +udev rule +/etc/udev/rules.d/60-alpha-bridge.rules installed$'
has ready '^ok +pairing '
! grep -q '^FAIL' "$O/ready.txt" || die "a FAIL line on a ready system"
[ "$RC" = 0 ] || die "doctor exited $RC on a ready system"

step "v4l2loopback without exclusive_caps"
K=$(uname -r)
modprobe -d "$VM_DIR/kroot" -S "$K" -r v4l2loopback &&
	modprobe -d "$VM_DIR/kroot" -S "$K" v4l2loopback exclusive_caps=0 video_nr=10 card_label=alpha-bridge max_buffers=8 ||
	die "could not reload v4l2loopback"
doctor nocaps
has nocaps '^FAIL +exclusive_caps +off for /dev/video10: '
has nocaps '^      fix: .*sudo modprobe -r v4l2loopback && sudo modprobe v4l2loopback exclusive_caps=1'
has nocaps '^ok +camera +ILCE-6400 '
[ "$(grep -c '^FAIL' "$O/nocaps.txt")" = 1 ] || die "exactly one FAIL line expected"
[ "$RC" = 1 ] || die "doctor exited $RC with a FAIL line"
step "ok"
