#!/bin/bash
# tests/vm/run.sh - the VM stage: boots Debian's stock kernel under QEMU (TCG) with
# dummy_hcd + libcomposite + FunctionFS + v4l2loopback, using this machine's own
# userspace over 9p, and runs the scenario scripts in tests/vm/scenarios/ against the
# binaries built on the host. Adapted from the shared rig (../shared/tools/vmrig).
#
#   tests/vm/run.sh                       all scenarios in one VM boot
#   tests/vm/run.sh scenarios/list.sh ..  only these (paths relative to tests/vm or absolute)
#   tests/vm/run.sh prepare               only install/download/build the kernel side
#   tests/vm/run.sh shell                 interactive root shell in the VM (`exit` powers off)
#
# Prints exactly one line "vm: N passed, M failed" at the end; exit status 0 only when
# every scenario passed (and at least one ran).
#
# Env: VM_DIR (cache, default /tmp/alpha-bridge-vm, reused between runs), VM_PROFILE
#      (release|debug for the alpha-bridge binary, default release: under TCG a debug
#      build of the emulated body and the bridge is too slow for live view's timeouts;
#      the gadget test bench example is always the debug build that `cargo test`
#      already made), VM_TIMEOUT (seconds for the whole VM, 3600: the default scenarios take about
#      800 s in the guest, plus integrity's 1,000 judged pictures),
#      SCENARIO_TIMEOUT (seconds per scenario, 90; a scenario's "# vm-timeout: N" line
#      raises its own), KVER (pin a kernel release),
#      VM_NO_BUILD=1 (use the binaries already in target/), VM_MEM (MiB, 1024).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VM_DIR=${VM_DIR:-/tmp/alpha-bridge-vm}
VM_PROFILE=${VM_PROFILE:-release}
VM_TIMEOUT=${VM_TIMEOUT:-3600}
SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-90}
VM_MEM=${VM_MEM:-1024}
DEBS=$VM_DIR/debs
KROOT=$VM_DIR/kroot

log() { printf '[vm %(%T)T] %s\n' -1 "$*" >&2; }
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
secs() { local d=$(( $(now_ms) - $1 )); printf '%d.%d' $((d / 1000)) $((d / 100 % 10)); }

install_host_packages() {
	# qemu + initramfs tools on the host; the rest runs inside the guest (same userspace)
	local pkgs=(qemu-system-x86 busybox-static cpio kmod gcc make libc6-dev xz-utils zstd
		libusb-1.0-0-dev usbutils v4l-utils ffmpeg gphoto2)
	local missing=() p
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "apt-get install ${missing[*]}"
		local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
		$sudo apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

kernel_release() { # e.g. 6.1.0-56-amd64, from the linux-image-amd64 metapackage
	if [ -n "${KVER:-}" ]; then echo "$KVER"; return; fi
	apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: linux-image-//p' | head -1
}

fetch_kernel() {
	local K=$1 hdr_deps d
	[ -f "$KROOT/boot/vmlinuz-$K" ] && [ -f "$KROOT/.extracted-$K" ] && return
	rm -rf "$KROOT" "$DEBS"
	mkdir -p "$DEBS" "$KROOT"
	hdr_deps=$(apt-cache depends "linux-headers-$K" | sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ ]*\)$/\1/p' | tr '\n' ' ')
	log "apt-get download linux-image-$K linux-headers-$K $hdr_deps v4l2loopback-dkms"
	# shellcheck disable=SC2086
	(cd "$DEBS" && apt-get download -q "linux-image-$K" "linux-headers-$K" $hdr_deps v4l2loopback-dkms 2>&1 |
		grep -v '^W: Download is performed unsandboxed' >&2 || true)
	for d in "$DEBS"/linux-image-"$K"_*.deb "$DEBS"/linux-headers-*.deb "$DEBS"/linux-kbuild-*.deb "$DEBS"/v4l2loopback-dkms_*.deb; do
		[ -f "$d" ] || { log "download failed: $d missing (is apt reachable?)"; exit 1; }
		dpkg-deb -x "$d" "$KROOT"
	done
	# The extracted headers' Makefile includes the -common tree by absolute path.
	sed -i "s#^include /usr/src/#include $KROOT/usr/src/#" "$KROOT/usr/src/linux-headers-$K/Makefile"
	rm -rf "$DEBS" # 81 MB we no longer need
	touch "$KROOT/.extracted-$K"
}

build_v4l2loopback() {
	local K=$1 src out=$KROOT/lib/modules/$1/updates/v4l2loopback.ko
	[ -f "$out" ] && return
	src=$(ls -d "$KROOT"/usr/src/v4l2loopback-* | head -1)
	rm -rf "$VM_DIR/v4l2loopback-build"
	cp -r "$src" "$VM_DIR/v4l2loopback-build"
	log "building $(basename "$src") for $K"
	make -s -C "$KROOT/usr/src/linux-headers-$K" M="$VM_DIR/v4l2loopback-build" modules >&2
	mkdir -p "$(dirname "$out")"
	cp "$VM_DIR/v4l2loopback-build/v4l2loopback.ko" "$out"
	depmod -b "$KROOT" "$K"
}

build_initramfs() {
	local K=$1 ir=$VM_DIR/initramfs m f
	rm -rf "$ir"
	mkdir -p "$ir"/{bin,dev,proc,sys,mods,host,tmp}
	cp /bin/busybox "$ir/bin/busybox"
	install -m 755 "$HERE/guest/init" "$ir/init"
	for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
		netfs fscache 9pnet 9pnet_virtio 9p overlay; do
		f=$(find "$KROOT/lib/modules/$K/kernel" -name "$m.ko*" | head -1)
		[ -n "$f" ] || { log "module $m not found"; exit 1; }
		case "$f" in
		*.xz) xz -dc "$f" >"$ir/mods/$m.ko" ;;
		*.zst) zstd -qdc "$f" >"$ir/mods/$m.ko" ;;
		*) cp "$f" "$ir/mods/$m.ko" ;;
		esac
	done
	(cd "$ir" && find . -print0 | cpio --null -o -H newc --quiet) >"$VM_DIR/initramfs.cpio"
}

prepare() {
	local t0 K
	t0=$(now_ms)
	mkdir -p "$VM_DIR"
	install_host_packages
	K=$(kernel_release)
	[ -n "$K" ] || { log "cannot resolve the kernel release (apt-cache depends linux-image-amd64)"; exit 1; }
	fetch_kernel "$K"
	build_v4l2loopback "$K"
	build_initramfs "$K"
	echo "$K" >"$VM_DIR/kernel-release"
	log "prepared kernel $K in $(secs "$t0") s"
}

build_binaries() {
	[ "${VM_NO_BUILD:-0}" = 1 ] && return
	local t0 flags=()
	t0=$(now_ms)
	[ "$VM_PROFILE" = release ] && flags=(--release)
	(cd "$REPO" && cargo build -q "${flags[@]}" --bins && cargo build -q --example usb_gadget)
	log "cargo build (bins: $VM_PROFILE, example: debug) in $(secs "$t0") s"
}

# Scenarios with a "# vm-needs: it" line run tests of the `it` integration test binary in
# the guest (netem.sh). Built here in release and copied to $VM_DIR/it-tests, so a host
# rebuild while the VM runs cannot change it under the guest.
IT_TEST=
build_it_tests() {
	grep -qlx '# vm-needs: it' "${scenarios[@]}" || return 0
	local t0 exe
	t0=$(now_ms)
	exe=$(cd "$REPO" && cargo test -q --release --no-run --test it --message-format=json 2>/dev/null |
		sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
	[ -n "$exe" ] && [ -x "$exe" ] || { log "cannot build the it test binary (cargo test --release --no-run --test it)"; exit 1; }
	cp "$exe" "$VM_DIR/it-tests"
	IT_TEST=$VM_DIR/it-tests
	log "it test binary (release) in $(secs "$t0") s"
}

# Pre-encoded test card frames for `emulate --frames` (bench_e2e, integrity; 60 distinct
# counters, so the judge decodes its references in seconds under TCG): made here,
# where encoding takes ~10 ms a frame, not in the guest (~300 ms under TCG). Cached.
FRAMES=$VM_DIR/frames/testcard-1024x680-60.mjpeg
make_frames() {
	[ -s "$FRAMES" ] && return
	mkdir -p "$(dirname "$FRAMES")"
	"${CARGO_TARGET_DIR:-$REPO/target}/$VM_PROFILE/alpha-bridge" testcard-frames --count 60 "$FRAMES" ||
		{ log "cannot make $FRAMES (alpha-bridge testcard-frames)"; exit 1; }
}

# run_vm SCRIPT|"" : boots the VM and runs SCRIPT (a host path, same path in the guest)
run_vm() {
	local cmd=$1 K console_log=$VM_DIR/console.log kv
	K=$(cat "$VM_DIR/kernel-release")
	local append="console=ttyS0 panic=-1 quiet loglevel=3 vm.dir=$VM_DIR"
	[ -n "$cmd" ] && append="$append vm.cmd=$cmd"
	for kv in ${GUEST_ENV:-}; do append="$append vm.env.$kv"; done
	local qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 1 -m "$VM_MEM"
		-nographic -no-reboot -nic none -nodefaults -serial stdio
		-kernel "$KROOT/boot/vmlinuz-$K" -initrd "$VM_DIR/initramfs.cpio"
		-append "$append"
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
		-virtfs local,path="$VM_DIR",mount_tag=vmdir,security_model=none,multidevs=remap)
	[ -z "$cmd" ] && exec "${qemu[@]}"
	local t0 rc=0
	t0=$(now_ms)
	timeout "$VM_TIMEOUT" "${qemu[@]}" </dev/null 2>&1 | while IFS= read -r line; do
		printf '%s [+%ss]\n' "${line%$'\r'}" "$(secs "$t0")"
	done | tee "$console_log" || rc=$?
	log "VM wall time $(secs "$t0") s, qemu exit $rc"
	return 0
}

case "${1:-}" in
prepare) prepare; exit 0 ;;
shell) prepare; build_binaries; run_vm "" ;;
esac

T0=$(now_ms)
scenarios=()
if [ $# -eq 0 ]; then
	scenarios=("$HERE"/scenarios/*.sh)
else
	for s in "$@"; do
		if [ -f "$s" ]; then scenarios+=("$(realpath "$s")")
		elif [ -f "$HERE/$s" ]; then scenarios+=("$HERE/$s")
		elif [ -f "$HERE/scenarios/$s" ]; then scenarios+=("$HERE/scenarios/$s")
		else log "no such scenario: $s"; echo "vm: 0 passed, 1 failed"; exit 1
		fi
	done
fi
prepare
build_binaries
build_it_tests
make_frames
T_VM=$(now_ms)

OUT=$VM_DIR/out
rm -rf "$OUT"
mkdir -p "$OUT"
printf '%s\n' "${scenarios[@]}" >"$OUT/scenarios.list"
cat >"$OUT/env" <<ENV
REPO=$REPO
BIN=${CARGO_TARGET_DIR:-$REPO/target}/$VM_PROFILE
EXAMPLES=${CARGO_TARGET_DIR:-$REPO/target}/debug/examples
VM_DIR=$VM_DIR
SCENARIO_TIMEOUT=$SCENARIO_TIMEOUT
FRAMES=$FRAMES
IT_TEST=$IT_TEST
ENV
run_vm "$HERE/guest/runner.sh"

# The guest wrote one "pass|fail NAME SECONDS" line per scenario to $OUT/results.
passed=0 failed=0
declare -A seen=()
if [ -f "$OUT/results" ]; then
	while read -r verdict name took; do
		seen[$name]=1
		if [ "$verdict" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
		printf '  %-28s %s  %ss\n' "$name" "$verdict" "$took"
	done <"$OUT/results"
fi
for s in "${scenarios[@]}"; do # scenarios that never reported (VM crash, timeout)
	n=$(basename "$s" .sh)
	if [ -z "${seen[$n]:-}" ]; then
		failed=$((failed + 1)); printf '  %-28s %s\n' "$n" "fail (no result: see $VM_DIR/console.log)"
	fi
done
[ -f "$OUT/boot-time" ] && log "guest userspace ready after $(cat "$OUT/boot-time") s of guest uptime"
log "VM stage (build + boot + scenarios) took $(secs "$T0") s; VM alone $(secs "$T_VM") s; logs in $OUT"
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
