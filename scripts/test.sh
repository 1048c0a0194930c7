#!/usr/bin/env bash
# The whole test suite: system packages, cargo tests, then the real-kernel VM stage
# (the emulated camera as a USB gadget, v4l2loopback, gphoto2 and ffmpeg as judges).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# The cheap checks first: formatting, then clippy with every warning an error (the
# [lints] table in Cargo.toml holds the project's own rules: docs, visibility, unsafe).
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo build --release --bins
# tests/it/pipewire.rs starts its own private PipeWire session (scripts/pw-session.sh).
cargo test --release
# Every fuzz target over its checked-in corpus, then 10 s each (skips with a note where
# no fuzz toolchain can be had).
scripts/fuzz.sh --smoke
if [ -x tests/vm/run.sh ]; then
  rc=0
  tests/vm/run.sh || rc=$?
  # The end-to-end comparison with gphoto2 | ffmpeg and the picture-integrity counts:
  # shown, never judged here (bench_e2e fails only when something is broken).
  out=${VM_DIR:-/tmp/alpha-bridge-vm}/out
  grep -hE '^(e2e|e2e-median|integrity):' "$out/bench_e2e.log" "$out/integrity.log" 2>/dev/null || true
  exit "$rc"
fi
