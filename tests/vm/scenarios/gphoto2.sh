#!/bin/bash
# Independent fidelity check: libgphoto2's own Sony code (ptp2 camlib) accepts the
# emulated body: --auto-detect, --summary and --capture-preview succeed.
. "$(dirname "$0")/../lib.sh"
emulate
step "gphoto2 --auto-detect"
gphoto2 --auto-detect | tee "$O/autodetect.txt"
grep -q 'ILCE-6400' "$O/autodetect.txt" || die "gphoto2 --auto-detect does not list the ILCE-6400"
step "gphoto2 --summary"
gphoto2 --debug --debug-logfile="$O/summary.debug" --summary >"$O/summary.txt" 2>&1 ||
	{ grep -iE 'error|fail|timeout' "$O/summary.debug" | tail -n 15; die "gphoto2 --summary failed (debug log: $O/summary.debug)"; }
grep -E '^(Manufacturer|Model|  Version|Serial)' "$O/summary.txt" || true
grep -q 'ILCE-6400' "$O/summary.txt" || die "gphoto2 --summary does not show the model"
step "gphoto2 --capture-preview"
(cd "$O" && gphoto2 --debug --debug-logfile="$O/preview.debug" --capture-preview --filename "$O/preview.jpg" --force-overwrite) >"$O/preview.txt" 2>&1 ||
	{ grep -iE 'error|fail|timeout' "$O/preview.debug" | tail -n 15; die "gphoto2 --capture-preview failed (debug log: $O/preview.debug)"; }
# gphoto2 names the file itself (it prefixes "thumb_"); take the name it printed.
preview=$(sed -n 's/^Saving file as //p' "$O/preview.txt" | tail -n 1)
[ -n "$preview" ] && [ -f "$preview" ] || die "gphoto2 saved no preview: $(cat "$O/preview.txt")"
[ "$(head -c 2 "$preview" | od -An -tx1 | tr -d ' ')" = ffd8 ] || die "the preview is not a JPEG"
ffmpeg -nostdin -v error -xerror -i "$preview" -f null - || die "the preview JPEG does not decode"
step "preview $(stat -c %s "$preview") bytes: $(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$preview")"
step "ok"
