#!/bin/bash
# Runs inside the VM (chrooted into the host's userspace): loads the USB gadget and
# v4l2loopback modules, then runs each scenario listed in $VM_DIR/out/scenarios.list
# in its own session with a timeout, cleans up after it, and appends
# "pass|fail NAME SECONDS" to $VM_DIR/out/results. Scenario output goes to
# $VM_DIR/out/NAME.log (shown on the console when the scenario fails).
set -uo pipefail
OUT=$VM_DIR/out
# shellcheck disable=SC1091
. "$OUT/env"
export REPO BIN EXAMPLES VM_DIR OUT FRAMES IT_TEST
up() { cut -d' ' -f1 /proc/uptime; }
up >"$OUT/boot-time"
K=$(uname -r)
mp() { modprobe -d "$VM_DIR/kroot" -S "$K" "$@"; }
t0=$(up)
mp dummy_hcd && mp libcomposite && mp usb_f_fs || echo "VM-MARK gadget modules failed to load"
load_loopback() { mp v4l2loopback exclusive_caps=1 video_nr=10 card_label=alpha-bridge max_buffers=8; }
load_loopback || echo "VM-MARK v4l2loopback failed to load"
# A fresh loopback device for each scenario: with exclusive_caps=1 a node stays in
# capture mode while anything holds it open, so one scenario's leftover reader or writer
# must not decide the next one's result. Whoever still holds it is named in the log.
fresh_loopback() {
	local holders
	holders=$(for f in /proc/[0-9]*/fd/*; do [ "$(readlink "$f" 2>/dev/null)" = /dev/video10 ] && echo "${f#/proc/}"; done | cut -d/ -f1 | sort -u |
		while read -r p; do echo "$p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done)
	[ -n "$holders" ] && echo "VM-MARK /dev/video10 still held by: $holders"
	modprobe -d "$VM_DIR/kroot" -S "$K" -r v4l2loopback 2>/dev/null && load_loopback ||
		echo "VM-MARK could not reload v4l2loopback"
}
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
echo "VM-MARK modules-loaded $(up) (took $(awk "BEGIN{print $(up)-$t0}") s)"

cleanup_gadgets() { # whatever a scenario left behind, so the next one starts clean
	local g c f
	for g in /sys/kernel/config/usb_gadget/*/; do
		[ -d "$g" ] || continue
		echo "" >"$g/UDC" 2>/dev/null
		for c in "$g"configs/*/; do
			find "$c" -maxdepth 1 -type l -exec rm -f {} + 2>/dev/null
			rmdir "$c"strings/* "$c" 2>/dev/null
		done
		for f in "$g"functions/*; do
			[ -e "$f" ] || continue
			case "$(basename "$f")" in ffs.*) umount "/dev/ffs-$(basename "$f" | cut -d. -f2-)" 2>/dev/null ;; esac
			rmdir "$f" 2>/dev/null
		done
		rmdir "$g"strings/* "$g" 2>/dev/null
		echo "VM-MARK removed leftover gadget $g"
	done
}

while read -r s; do
	name=$(basename "$s" .sh)
	log=$OUT/$name.log
	echo "VM-MARK scenario-start $name $(up)"
	start=$(up)
	# own session, so everything the scenario started can be stopped as one group
	setsid bash "$s" >"$log" 2>&1 &
	pid=$!
	# a scenario that needs longer says so in a "# vm-timeout: SECONDS" line
	limit=$(sed -n 's/^# vm-timeout: *\([0-9][0-9]*\).*/\1/p' "$s" | head -n 1)
	limit=${limit:-$SCENARIO_TIMEOUT}
	deadline=$((SECONDS + limit))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL: scenario timed out after $limit s" >>"$log"
		kill -KILL -- -"$pid" 2>/dev/null
	fi
	wait "$pid"
	rc=$?
	kill -TERM -- -"$pid" 2>/dev/null && sleep 0.5 && kill -KILL -- -"$pid" 2>/dev/null
	cleanup_gadgets
	fresh_loopback
	took=$(awk "BEGIN{printf \"%.1f\", $(up)-$start}")
	if [ "$rc" = 0 ]; then
		echo "pass $name $took" >>"$OUT/results"
		echo "VM-MARK scenario-pass $name ${took}s"
	else
		echo "fail $name $took" >>"$OUT/results"
		echo "VM-MARK scenario-fail $name ${took}s (exit $rc); last lines of $log:"
		tail -n 40 "$log" | sed 's/^/  | /'
	fi
done <"$OUT/scenarios.list"
sync
