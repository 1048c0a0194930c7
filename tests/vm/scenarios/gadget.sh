#!/bin/bash
# The USB gadget alone (emulator::gadget with the tiny responder of
# examples/usb_gadget.rs): the host enumerates a Sony ILCE-6400 with a Still Image
# interface, lsusb and gphoto2 see it, PTP transactions go through (gphoto2 with the
# generic PTP driver), the cable can be pulled and plugged back, SIGINT removes it.
. "$(dirname "$0")/../lib.sh"
[ -x "$EXAMPLE_GADGET" ] || die "$EXAMPLE_GADGET missing: cargo build --examples"
# DeviceInfo padded to one 512-byte packet: the host only sees its end through the
# zero-length packet the gadget must add
VM_GADGET=example EXAMPLE_ARGS="--device-info-len 512" emulate --mode ptp
D=$(sony_dev)
[ "$(cat "$D/idProduct")" = 0caa ] || die "idProduct $(cat "$D/idProduct")"
[ "$(cat "$D/manufacturer")" = Sony ] || die "manufacturer $(cat "$D/manufacturer")"
[ "$(cat "$D/product")" = ILCE-6400 ] || die "product $(cat "$D/product")"
I=$D:1.0
[ "$(cat "$I/bInterfaceClass")/$(cat "$I/bInterfaceSubClass")/$(cat "$I/bInterfaceProtocol")" = 06/01/01 ] ||
	die "interface class $(cat "$I/bInterfaceClass")"
[ "$(cat "$I/bNumEndpoints")" = 03 ] || die "$(cat "$I/bNumEndpoints") endpoints"

step "lsusb -v"
lsusb -v -d 054c:0caa >"$O/lsusb.txt" 2>/dev/null || true
grep -E 'idVendor|idProduct|iManufacturer|iProduct|bInterfaceClass|bEndpointAddress|Transfer Type|wMaxPacketSize' "$O/lsusb.txt"
[ "$(grep -c 'Transfer Type *Bulk' "$O/lsusb.txt")" = 2 ] || die "lsusb: not 2 bulk endpoints"
grep -q 'Transfer Type *Interrupt' "$O/lsusb.txt" || die "lsusb: no interrupt endpoint"
grep -q 'bInterfaceClass *6\b' "$O/lsusb.txt" || die "lsusb: not an imaging interface"

step "gphoto2 --auto-detect"
gphoto2 --auto-detect | tee "$O/autodetect.txt"
grep -qi 'sony' "$O/autodetect.txt" || die "gphoto2 --auto-detect does not list the Sony body"

step "PTP through libgphoto2's generic PTP driver (OpenSession, GetDeviceInfo, CloseSession)"
PORT=$(sed -n 's/.*\(usb:[0-9]*,[0-9]*\).*/\1/p' "$O/autodetect.txt" | head -1)
gphoto2 --port "$PORT" --camera "USB PTP Class Camera" --summary >"$O/summary.txt" 2>&1 ||
	{ cat "$O/summary.txt"; die "gphoto2 --summary over the generic driver failed"; }
grep -E 'Model|Manufacturer' "$O/summary.txt"
grep -q 'ILCE-6400' "$O/summary.txt" || die "summary does not show the model from DeviceInfo"
grep -q 'GET_DEVICE_INFO' "$O/gadget.log" || die "the gadget did not see GetDeviceInfo"

step "unplug and replug"
unplug
wait_for 10 sh -c '! grep -qx 054c /sys/bus/usb/devices/*/idVendor' || die "device still present after unbind"
replug
wait_for 20 sony_dev || die "device did not come back after bind"
wait_for 10 sh -c "grep -c 'host enabled the device' '$O/gadget.log' | grep -qx 2" ||
	die "the gadget did not see a second enable"
gphoto2 --port usb: --camera "USB PTP Class Camera" --summary >"$O/summary2.txt" 2>&1 ||
	{ cat "$O/summary2.txt"; die "PTP after replug failed"; }
grep -q 'ILCE-6400' "$O/summary2.txt" || die "no DeviceInfo after replug"

step "SIGINT removes the gadget"
stop gadget INT
[ "$STOP_RC" = 0 ] || die "gadget exited $STOP_RC on SIGINT"
[ -z "$(ls "$G")" ] || die "configfs still has $(ls "$G")"
! mountpoint -q /dev/ffs-alpha-bridge || die "FunctionFS still mounted"
step "ok"
