#!/bin/bash
# Guest script for the shared VM rig (../shared/tools/vmrig): runs the ignored tests of
# tests/usb_real.rs and `alpha-bridge list` against real USB gadgets on dummy_hcd, all
# with Sony's vendor id: the rig's FunctionFS Still Image gadget (PTP), g_mass_storage,
# g_webcam (UVC) and a HID-only configfs gadget (the "select USB mode" placeholder).
#
# On the host:
#   cargo build && cargo test --no-run --test usb_real
#   T=$(ls -t target/debug/deps/usb_real-* | grep -v '\.d$' | head -1)
#   GUEST_ENV="USB_TEST=$PWD/$T AB=$PWD/target/debug/alpha-bridge" \
#     RIGDIR=/tmp/vmrig-usb bash ../shared/tools/vmrig/rig.sh run tests/usb_real_guest.sh
# Prints "USB-PASS name" / "USB-FAIL name" per step and "USB-RESULT N passed, M failed".
set -uo pipefail
K=$(uname -r)
B=$RIGDIR/bin
O=$RIGDIR/out
mkdir -p "$O"
rm -f "$O"/*
mp() { modprobe -d "$RIGDIR/kroot" -S "$K" "$@"; }
passed=0 failed=0
ok() { echo "USB-PASS $1"; passed=$((passed + 1)); }
bad() { echo "USB-FAIL $1"; failed=$((failed + 1)); }
check() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n"; fi; }
UT=("$USB_TEST" --ignored --exact --nocapture --test-threads=1)
t() { "${UT[@]}" "$@"; }
wait_for() { # seconds, command...
	local n=$(($1 * 10)); shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1)); [ "$n" -gt 0 ] || return 1; sleep 0.1
	done
}
sony_dev() { grep -l '^054c$' /sys/bus/usb/devices/*/idVendor 2>/dev/null | head -1; }
gone() { [ -z "$(sony_dev)" ]; }
show() {
	local d; d=$(dirname "$(sony_dev)")
	echo "sysfs: $d $(cat "$d/idVendor"):$(cat "$d/idProduct") speed=$(cat "$d/speed")"
	for i in "$d":*; do
		[ -f "$i/bInterfaceClass" ] && echo "  $(basename "$i") class=$(cat "$i/bInterfaceClass")/$(cat "$i/bInterfaceSubClass")/$(cat "$i/bInterfaceProtocol") driver=$(basename "$(readlink "$i/driver" 2>/dev/null)" 2>/dev/null)"
	done
}
ab_list() { # label
	echo "--- alpha-bridge list ($1)"
	"$AB" -v list 2>&1
	echo "--- alpha-bridge list --json ($1)"
	"$AB" list --json 2>&1
}

mp dummy_hcd
mp libcomposite
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
UDC=$(ls /sys/class/udc | head -1)
CFG=/sys/kernel/config/usb_gadget

new_gadget() { # name pid product serial
	local G=$CFG/$1
	mkdir "$G"
	echo 0x054c >"$G/idVendor"
	echo "$2" >"$G/idProduct"
	echo 0x0200 >"$G/bcdUSB"
	mkdir "$G/strings/0x409"
	echo "Sony" >"$G/strings/0x409/manufacturer"
	echo "$3" >"$G/strings/0x409/product"
	echo "$4" >"$G/strings/0x409/serialnumber"
	mkdir -p "$G/configs/c.1/strings/0x409"
	echo 100 >"$G/configs/c.1/MaxPower"
}
drop_gadget() { # name function
	local G=$CFG/$1
	[ -z "$(cat "$G/UDC")" ] || echo "" >"$G/UDC" || echo "unbind $1 failed"
	rm -f "$G/configs/c.1/$2"
	rmdir "$G/configs/c.1/strings/0x409" "$G/configs/c.1" "$G/functions/$2" "$G/strings/0x409" "$G" ||
		echo "removing gadget $1 failed"
}

# ------------------------------------------------------------ 1. PTP (FunctionFS)
mp usb_f_fs
new_gadget sony 0x0c34 ILCE-7M3 D0123456789
G=$CFG/sony
mkdir "$G/functions/ffs.ptp"
ln -s "$G/functions/ffs.ptp" "$G/configs/c.1/"
mkdir -p /dev/ffs-ptp
mount -t functionfs ptp /dev/ffs-ptp
"$B/ptpgadget" /dev/ffs-ptp >"$O/gadget.out" 2>"$O/gadget.err" &
GP=$!
wait_for 10 grep -q READY "$O/gadget.out" || bad "ptp gadget ready"
echo "$UDC" >"$G/UDC"
wait_for 20 sony_dev || bad "ptp enumerated"
show
check ptp-list env EXPECT_MODE=ptp EXPECT_PRODUCT=ILCE-7M3 EXPECT_SERIAL=D0123456789 \
	"${UT[@]}" real_list_sees_mode
ab_list ptp
check ptp-transfers t real_ptp_transfers
check ptp-class-requests-reached-gadget grep -q 'SETUP a1 67' "$O/gadget.err"

# Busy: one process holds the interface, another tries.
HOLD_SECS=20 t real_hold >"$O/hold.out" 2>&1 &
HP=$!
if wait_for 15 grep -q HOLDING "$O/hold.out"; then
	check ptp-busy env EXPECT_HOLDER=usb_real "${UT[@]}" real_busy
	echo "--- alpha-bridge list while held"
	"$AB" list 2>&1
else
	bad "ptp-hold"; cat "$O/hold.out"
fi
kill "$HP" 2>/dev/null; wait "$HP" 2>/dev/null

# Permission: nobody may not open the device node.
ls -l /dev/bus/usb/*/*
check ptp-permission setpriv --reuid=65534 --regid=65534 --clear-groups \
	"${UT[@]}" real_permission_denied
echo "--- alpha-bridge list as nobody"
setpriv --reuid=65534 --regid=65534 --clear-groups "$AB" list 2>&1

# Watcher: present at start, then unplugged.
t real_watcher >"$O/watch.out" 2>&1 &
WP=$!
if wait_for 30 grep -q WATCHING "$O/watch.out"; then
	echo "" >"$G/UDC"
	if wait "$WP"; then ok watcher; else bad watcher; fi
else
	bad "watcher-start"; kill "$WP" 2>/dev/null
fi
cat "$O/watch.out"
wait_for 10 gone
cat "$O/gadget.err"
kill "$GP" 2>/dev/null
umount /dev/ffs-ptp
drop_gadget sony ffs.ptp

# ------------------------------------------------------------ 2. HID only (mode chooser)
mp usb_f_hid
new_gadget sonyhid 0x096f ILCE-7M3 D0123456789
G=$CFG/sonyhid
mkdir "$G/functions/hid.usb0"
echo 0 >"$G/functions/hid.usb0/protocol"
echo 0 >"$G/functions/hid.usb0/subclass"
echo 8 >"$G/functions/hid.usb0/report_length"
# A minimal vendor-defined report descriptor (8-byte input report).
printf '\x06\x00\xff\x09\x01\xa1\x01\x15\x00\x26\xff\x00\x75\x08\x95\x08\x09\x01\x81\x02\xc0' \
	>"$G/functions/hid.usb0/report_desc"
ln -s "$G/functions/hid.usb0" "$G/configs/c.1/"
echo "$UDC" >"$G/UDC"
wait_for 20 sony_dev || bad "hid enumerated"
show
check select-mode-list env EXPECT_MODE=select_mode "${UT[@]}" real_list_sees_mode
ab_list select-mode
drop_gadget sonyhid hid.usb0
wait_for 10 gone

# ------------------------------------------------------------ 3. Mass storage
# (configfs mass_storage function; Debian's kernel has no legacy g_mass_storage)
mp usb-storage
mp usb_f_mass_storage
dd if=/dev/zero of=/tmp/disk.img bs=1M count=8 2>/dev/null
new_gadget sonymsc 0x0c02 ILCE-7M3 D0123456789
G=$CFG/sonymsc
mkdir "$G/functions/mass_storage.0"
echo /tmp/disk.img >"$G/functions/mass_storage.0/lun.0/file"
echo 1 >"$G/functions/mass_storage.0/lun.0/removable"
ln -s "$G/functions/mass_storage.0" "$G/configs/c.1/"
echo "$UDC" >"$G/UDC"
if wait_for 20 sony_dev; then
	wait_for 10 sh -c 'ls -d /sys/bus/usb/drivers/usb-storage/*:1.0' || echo "usb-storage did not bind"
	show
	check msc-list env EXPECT_MODE=mass_storage "${UT[@]}" real_list_sees_mode
	ab_list mass-storage
	check msc-transfers env EXPECT_DETACH=1 "${UT[@]}" real_mass_storage
	if wait_for 10 sh -c 'ls -d /sys/bus/usb/drivers/usb-storage/*:1.0'; then ok msc-reattached; else bad msc-reattached; fi
	show
else
	bad "msc enumerated"
fi
drop_gadget sonymsc mass_storage.0
wait_for 10 gone

# ------------------------------------------------------------ 4. UVC
# dummy_hcd has no isochronous endpoints, so the kernel's uvc function cannot bind; a
# FunctionFS function with the video class interfaces (0E/01 with interrupt IN, 0E/02
# with bulk IN, as UVC allows) is enough for what is tested: classification.
cat >/tmp/uvc_ffs.py <<'PY'
import os, struct, sys
ep0 = os.open(sys.argv[1] + "/ep0", os.O_RDWR)
def intf(num, cls, sub, neps):
    return struct.pack("<BBBBBBBBB", 9, 4, num, 0, neps, cls, sub, 0, 1)
def ep(addr, attr, mps, interval):
    return struct.pack("<BBBBHB", 7, 5, addr, attr, mps, interval)
def descs(bulk_mps):
    return intf(0, 0x0E, 1, 1) + ep(0x81, 3, 16, 8) + intf(1, 0x0E, 2, 1) + ep(0x82, 2, bulk_mps, 0)
body = struct.pack("<II", 4, 4) + descs(64) + descs(512)
os.write(ep0, struct.pack("<III", 3, 12 + len(body), 3) + body)
name = b"Video\0"
os.write(ep0, struct.pack("<IIIIH", 2, 18 + len(name), 1, 1, 0x409) + name)
print("READY", flush=True)
while True:
    os.read(ep0, 12 * 4)
PY
new_gadget sonyuvc 0x0da7 ILCE-7M4 E0123
G=$CFG/sonyuvc
mkdir "$G/functions/ffs.uvc"
ln -s "$G/functions/ffs.uvc" "$G/configs/c.1/"
mkdir -p /dev/ffs-uvc
mount -t functionfs uvc /dev/ffs-uvc
python3 /tmp/uvc_ffs.py /dev/ffs-uvc >"$O/uvc.out" 2>"$O/uvc.err" &
UP=$!
if wait_for 10 grep -q READY "$O/uvc.out" && echo "$UDC" >"$G/UDC" && wait_for 20 sony_dev; then
	show
	check uvc-list env EXPECT_MODE=uvc_streaming "${UT[@]}" real_list_sees_mode
	ab_list uvc
else
	bad "uvc enumerated"; cat "$O/uvc.err"
fi
kill "$UP" 2>/dev/null

echo "USB-RESULT $passed passed, $failed failed"
[ "$failed" -eq 0 ]
