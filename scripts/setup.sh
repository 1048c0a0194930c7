#!/usr/bin/env bash
# Installs what alpha-bridge needs to build and run on Debian/Ubuntu: the system libusb
# (rusb links it), libclang (the v4l and pipewire crates' bindgen), libpipewire-0.3-dev (the
# default `pipewire` feature), pkg-config, libturbojpeg0 (libjpeg-turbo, the default JPEG
# decoder, loaded at run time; without it the pure-Rust one is used); and, for the tests and the demo check, ffmpeg;
# with --test also a private PipeWire session's parts (pipewire, wireplumber, dbus) and
# the outside judges of the PipeWire node (pw-dump, GStreamer's pipewiresrc). Idempotent; uses sudo when not root.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
pkgs=(libusb-1.0-0-dev libclang-dev clang pkg-config ffmpeg libturbojpeg0 libpipewire-0.3-dev)
[ "${1:-}" = "--test" ] && pkgs+=(gphoto2 v4l-utils qemu-system-x86 busybox-static cpio kmod usbutils make gcc libc6-dev zstd iproute2 util-linux groff-base man-db
  pipewire pipewire-bin wireplumber dbus gstreamer1.0-pipewire gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found: install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
# scripts/test.sh runs `cargo fmt --check` and `cargo clippy`: add the components where
# rustup manages the toolchain (a distribution's cargo ships them as packages instead).
if [ "${1:-}" = "--test" ] && command -v rustup >/dev/null; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi
