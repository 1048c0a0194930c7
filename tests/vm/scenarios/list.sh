#!/bin/bash
# `alpha-bridge list` finds the emulated body on a real USB bus: Sony, ILCE-6400, PC
# Remote mode.
. "$(dirname "$0")/../lib.sh"
need_cli list
emulate
step "alpha-bridge list"
"$AB" list | tee "$O/list.txt"
grep -q 'Sony' "$O/list.txt" || die "list does not show Sony"
grep -q 'ILCE-6400' "$O/list.txt" || die "list does not show the model ILCE-6400"
grep -qi 'pc remote' "$O/list.txt" || die "list does not show PC Remote mode"
step "ok"
