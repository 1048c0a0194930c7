#!/bin/bash
# The ZV-E10 profile end to end on a real kernel (see ../profile.sh): `emulate --usb-gadget
# --model ZV-E10` -> `alpha-bridge webcam` -> v4l2loopback, frames read by v4l2-ctl and ffmpeg.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../profile.sh"
profile_webcam ZV-E10 0d97 3
