#!/bin/bash
# The DSC-RX100M7 profile end to end on a real kernel (see ../profile.sh): `emulate --usb-gadget
# --model DSC-RX100M7` -> `alpha-bridge webcam` -> v4l2loopback, frames read by v4l2-ctl and ffmpeg.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../profile.sh"
profile_webcam DSC-RX100M7 0cae 3
