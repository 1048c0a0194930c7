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
  tests/vm/run.sh
fi
