#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (libFuzzer) for a set time each and fails on a crash.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   each target SECONDS long (default 60)
#   scripts/fuzz.sh --smoke                 CI pass: the checked-in corpus once, then 10 s each
#   scripts/fuzz.sh --list                  the target names
#
# Needs cargo-fuzz (installed from crates.io if missing) and a toolchain that takes -Z flags:
# nightly when rustup has it, else the stable one with RUSTC_BOOTSTRAP=1. When neither
# can be had, --smoke prints why and exits 0 (the property tests in `cargo test` still
# cover the parsers); a timed run exits 2.
#
# New inputs libFuzzer finds go to fuzz/target/corpus/<target> (not checked in); the
# checked-in seeds in fuzz/corpus/<target> are only read. Crashes are written to
# fuzz/artifacts/<target>/; reproduce one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> fuzz/artifacts/<target>/crash-...
# Environment: FUZZ_SANITIZER=address|none (default address), FUZZ_JOBS is not used: the
# targets run one after another (the machines have 2 cores).
set -uo pipefail
cd "$(dirname "$0")/../fuzz"

smoke=0
secs=60
targets=()
case "${1:-}" in
  --smoke) smoke=1; secs=10; shift ;;
  --list) sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v alpha-bridge-fuzz; exit 0 ;;
  -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
  '' ) ;;
  *[!0-9]*) ;;
  *) secs=$1; shift ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v alpha-bridge-fuzz)
fi

unavailable() {
  if [ $smoke = 1 ]; then
    echo "fuzz smoke: SKIPPED: $1" >&2
    exit 0
  fi
  echo "fuzz: $1" >&2
  exit 2
}

# A toolchain that accepts -Zsanitizer and friends.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  tc=(+nightly)
  export -n RUSTC_BOOTSTRAP 2>/dev/null || true
else
  tc=()
  export RUSTC_BOOTSTRAP=1
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io" >&2
  cargo install --locked cargo-fuzz >&2 || unavailable "cargo-fuzz could not be installed (cargo install cargo-fuzz failed)"
fi

san=${FUZZ_SANITIZER:-address}
echo "fuzz: building ${#targets[@]} targets (sanitizer $san, toolchain ${tc[*]:-stable with RUSTC_BOOTSTRAP=1})" >&2
if ! cargo "${tc[@]}" fuzz build --sanitizer "$san" >&2; then
  if [ "$san" = address ]; then
    echo "fuzz: the address-sanitizer build failed; trying --sanitizer none" >&2
    san=none
    cargo "${tc[@]}" fuzz build --sanitizer none >&2 \
      || unavailable "the fuzz targets do not build with this toolchain ($(rustc "${tc[@]}" --version 2>/dev/null))"
  else
    unavailable "the fuzz targets do not build with this toolchain ($(rustc "${tc[@]}" --version 2>/dev/null))"
  fi
fi
bin_dir=target/$(rustc "${tc[@]}" -vV | sed -n 's/^host: //p')/release

failed=()
summary=()
for t in "${targets[@]}"; do
  bin=$bin_dir/$t
  [ -x "$bin" ] || { echo "fuzz: no binary for target $t" >&2; failed+=("$t (no binary)"); continue; }
  work=target/corpus/$t
  mkdir -p "$work" "artifacts/$t" "corpus/$t"
  log=target/fuzz-$t.log
  if [ $smoke = 1 ]; then
    # Every checked-in seed once: a regression seed that crashes fails here.
    if ! "$bin" -runs=0 -rss_limit_mb=2048 "corpus/$t" >"$log" 2>&1; then
      echo "fuzz: $t crashed on its checked-in corpus (see fuzz/$log)" >&2
      tail -n 30 "$log" >&2
      failed+=("$t")
      continue
    fi
  fi
  echo "fuzz: $t for ${secs}s" >&2
  "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" "$work" "corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
  summary+=("$(printf '%-18s %6ss %12s execs  cov %s  rc %s' "$t" "$secs" "${execs:-?}" "${cov:-?}" "$rc")")
  if [ $rc != 0 ]; then
    echo "fuzz: $t FAILED (exit $rc); log fuzz/$log, inputs in fuzz/artifacts/$t/" >&2
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -n 10 >&2
    failed+=("$t")
  fi
done

echo "fuzz summary (sanitizer $san):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
