#!/bin/bash
# The ILCE-5100 profile end to end on a real kernel (see ../profile.sh): `emulate --usb-gadget
# --model ILCE-5100` -> `alpha-bridge webcam` -> v4l2loopback, frames read by v4l2-ctl and ffmpeg.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../profile.sh"
profile_webcam ILCE-5100 0957 2
