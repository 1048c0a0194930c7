#!/bin/bash
# Pairing over USB mass storage: `alpha-bridge pair` against the emulated body in MSC
# mode succeeds and the body reports the GUID it registered.
. "$(dirname "$0")/../lib.sh"
need_cli pair
emulate --mode msc
I=$(sony_dev):1.0
[ "$(cat "$I/bInterfaceClass")/$(cat "$I/bInterfaceSubClass")/$(cat "$I/bInterfaceProtocol")" = 08/06/50 ] ||
	die "not a Bulk-Only SCSI interface: $(cat "$I/bInterfaceClass")"
step "alpha-bridge pair"
timeout 60 "$AB" pair >"$O/pair.txt" 2>&1 || { cat "$O/pair.txt"; die "alpha-bridge pair failed"; }
cat "$O/pair.txt"
guid_re='[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}'
wait_for 5 grep -qiE "regist.*$guid_re|$guid_re.*regist" "$O/gadget.log" ||
	die "the emulated body did not report a registered GUID"
g=$(grep -oE "$guid_re" "$O/gadget.log" | tail -1 | tr -d - | tr A-F a-f)
step "body registered GUID $g"
if grep -qE "$guid_re" "$O/pair.txt"; then
	p=$(grep -oE "$guid_re" "$O/pair.txt" | tail -1 | tr -d - | tr A-F a-f)
	[ "$p" = "$g" ] || die "pair sent GUID $p but the body registered $g"
fi
step "ok"
