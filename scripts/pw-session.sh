#!/usr/bin/env bash
# Runs a command inside a PRIVATE PipeWire session, never the desktop's: its own D-Bus
# session bus (dbus-run-session), a temporary XDG_RUNTIME_DIR, and pipewire plus
# wireplumber from the distribution's packages (scripts/setup.sh --test installs them).
#
#   scripts/pw-session.sh CMD [ARGS...]    run CMD in the session, then tear it down
#
# With PW_SESSION_DIR=DIR the session lives in DIR (the caller made it and removes it)
# and DIR/ready appears once the daemon and the session manager answer; tests start
# `PW_SESSION_DIR=DIR scripts/pw-session.sh sleep 3600` in a process group of their
# own and kill that group when done.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
for tool in dbus-run-session pipewire wireplumber pw-cli; do
  if ! command -v "$tool" >/dev/null; then
    echo "pw-session: $tool not found; run scripts/setup.sh --test" >&2
    exit 1
  fi
done
if [ -z "${PW_SESSION_INNER:-}" ]; then
  export PW_SESSION_INNER=1
  exec dbus-run-session -- "$0" "$@"
fi
if [ -n "${PW_SESSION_DIR:-}" ]; then
  rt=$PW_SESSION_DIR
  own=""
else
  rt=$(mktemp -d "${TMPDIR:-/tmp}/alpha-bridge-pw.XXXXXX")
  own=1
fi
export XDG_RUNTIME_DIR=$rt PIPEWIRE_RUNTIME_DIR=$rt
unset PIPEWIRE_REMOTE
pipewire >"$rt/pipewire.log" 2>&1 &
pw=$!
wp=""
cleanup() {
  kill $wp "$pw" 2>/dev/null || true
  wait $wp "$pw" 2>/dev/null || true
  [ -z "$own" ] || rm -rf "$rt"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
# Waits up to 30 s (a loaded machine starts slowly) for CMD to succeed.
wait_until() {
  for _ in $(seq 300); do
    if "$@"; then return 0; fi
    kill -0 "$pw" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
started() {
  echo "pw-session: $1 did not start; logs:" >&2
  tail -n 20 "$rt/pipewire.log" "$rt/wireplumber.log" >&2 2>/dev/null
  exit 1
}
wait_until pw-cli info 0 >/dev/null 2>&1 || started pipewire
# WirePlumber (started once the daemon answers) links consumers to the node they target.
wireplumber >"$rt/wireplumber.log" 2>&1 &
wp=$!
wp_ready() { pw-cli ls Client 2>/dev/null | grep -q 'application.name = "WirePlumber"'; }
wait_until wp_ready || started wireplumber
touch "$rt/ready"
"$@"
