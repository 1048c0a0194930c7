#!/bin/bash
# vm-needs: it
# vm-timeout: 240
# Live view over the network through a real `tc netem` shaped link (the guest's Debian
# kernel has sch_netem; the host CI kernel does not, so there the test skips). Runs
# tests of the `it` binary (built in release by run.sh): the webcam pipeline's PTP/IP
# source against the Wi-Fi emulator in PC Remote mode, first over plain loopback
# (and a stall then a reset: reconnect works), then in a network namespace whose
# loopback is shaped with 20 ms ± 10 ms delay and 1 % loss (steady live view, then a
# reset). AB_REQUIRE_NETEM makes the shaped test fail if the shaping cannot be set up
# instead of skipping. The small live view (640x424, AB_TEST_LIVE_VIEW=low): the body
# encodes and the bridge decodes every frame on one emulated CPU. Judges behaviour (live frames whole and in order, reconnects);
# prints fps and p50/p99 latency, asserts none of them.
. "$(dirname "$0")/../lib.sh"
[ -n "${IT_TEST:-}" ] && [ -x "$IT_TEST" ] ||
	die "no it test binary (run.sh builds it for scenarios with a '# vm-needs: it' line)"
command -v tc >/dev/null || die "tc (iproute2) is missing"
command -v unshare >/dev/null || die "unshare (util-linux) is missing"
K=$(uname -r)
mp() { modprobe -d "$VM_DIR/kroot" -S "$K" "$@"; }

# The guest brings no interface up; the loopback runs need lo (the namespaces of the
# shaped runs set up their own).
ip link set lo up || die "cannot bring lo up"
step "modprobe sch_netem"
mp sch_netem || die "cannot load sch_netem for $K"
grep -q '^sch_netem ' /proc/modules || die "sch_netem is not loaded"

# run_test NAME: one test of the it binary, its output in $O/NAME.log; fails the
# scenario unless exactly that test passed
run_test() {
	local log=$O/${1//::/_}.log
	step "test $1"
	AB_REQUIRE_NETEM=1 AB_TEST_LIVE_VIEW=low "$IT_TEST" --exact "$1" --nocapture --test-threads=1 >"$log" 2>&1 ||
		die "$1 failed: $(tail -n 20 "$log")"
	grep -q '^test result: ok. 1 passed' "$log" || die "$1 did not run: $(tail -n 5 "$log")"
	grep -q 'skipped' "$log" && die "$1 skipped: $(grep skipped "$log")"
	# the harness prints "test NAME ... " and the report on the same line
	grep -oE '(loopback|stall and reset|netem [^:]*): [0-9.]+ fps in, .*' "$log" | tee -a "$O/numbers.txt" || true
}

: >"$O/numbers.txt"
run_test webcam_ptpip::live_view_over_ptpip_runs_the_published_sequence_and_frames_arrive_in_order
run_test webcam_ptpip::a_stalled_socket_then_a_reset_give_placeholders_then_live_frames_again
run_test webcam_ptpip::live_view_through_a_netem_shaped_link
grep -q '^netem 20 ms' "$O/numbers.txt" || die "the shaped run printed no numbers"
grep -q '^netem reset' "$O/numbers.txt" || die "the reset through the shaped link printed no numbers"
step "numbers"
cat "$O/numbers.txt"
step "ok"
