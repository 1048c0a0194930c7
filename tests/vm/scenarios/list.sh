#!/bin/bash
# `alpha-bridge list` finds the emulated body on a real USB bus: Sony, ILCE-6400, PC
# Remote mode; then says that nothing answered its network search.
. "$(dirname "$0")/../lib.sh"
need_cli list
emulate
step "alpha-bridge list"
"$AB" list | tee "$O/list.txt"
grep -q 'Sony' "$O/list.txt" || die "list does not show Sony"
grep -q 'ILCE-6400' "$O/list.txt" || die "list does not show the model ILCE-6400"
grep -qx '  mode     PC Remote' "$O/list.txt" || die "list does not show PC Remote mode"
# The network search (the guest has no network: nothing answers) ends the listing.
grep -q '^no Sony camera answered on the network within' "$O/list.txt" ||
	die "list does not report its network search"
step "ok"
