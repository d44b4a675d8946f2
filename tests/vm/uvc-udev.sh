#!/bin/sh
# The stable names udev gives a USB camera, for the test VM, which has no udev (neither has the
# machine whose root it runs): run for every kernel uevent by `busybox uevent`, it makes and
# removes /dev/v4l/by-id and /dev/v4l/by-path links as udev's 60-persistent-v4l.rules does with
# its usb_id and path_id builtins:
#
#   /dev/v4l/by-id/usb-<manufacturer>_<product>_<serial>-video-index0   (spaces become _)
#   /dev/v4l/by-path/platform-vhci_hcd.0-usb-0:<port>:<config>.<interface>-video-index0
#
# for the capture node (index 0) of a USB video4linux device; the links of a node go when it
# does. Each change, and a node left without a name (its attributes unreadable), is logged, with
# its time (date +%s%N), to $UVC_UDEV_LOG.
#
#   busybox uevent sh tests/vm/uvc-udev.sh &      # then: sh tests/vm/uvc-udev.sh coldplug
set -u
log() { [ -n "${UVC_UDEV_LOG:-}" ] && echo "$(/bin/date +%s%N) $*" >>"$UVC_UDEV_LOG"; }

# udev's character rules: whitespace runs to one _, anything but [0-9A-Za-z#+-.:=@_] to _
udev_safe() { echo "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//; s/[[:space:]][[:space:]]*/_/g; s/[^0-9A-Za-z#+.:=@_-]/_/g'; }

# readable FILE: 0 once FILE can be read, waiting up to 3 s of the clock (not of loops: a loaded
# guest stretches those) for sysfs to finish a new device
readable() {
    until_=$(($(/bin/date +%s) + 3))
    while [ ! -r "$1" ] && [ "$(/bin/date +%s)" -lt $until_ ]; do sleep 0.1; done
    [ -r "$1" ]
}

add() {  # add videoN (a node left without its name is logged)
    sys=/sys/class/video4linux/$1
    readable "$sys/index"
    index=$(cat "$sys/index" 2>/dev/null)
    [ "$index" = 0 ] || { [ -n "$index" ] || log "no-name $1: $sys/index cannot be read"; return 0; }
    intf=$(readlink -f "$sys/device") # the USB interface, e.g. .../vhci_hcd.0/usb1/1-1/1-1:1.0
    usb=${intf%/*}
    readable "$usb/idVendor" || { log "no-name $1: $usb/idVendor cannot be read"; return 0; }
    serial="$(udev_safe "$(cat "$usb/manufacturer")")_$(udev_safe "$(cat "$usb/product")")"
    [ -r "$usb/serial" ] && serial="${serial}_$(udev_safe "$(cat "$usb/serial")")"
    platform=$(echo "$intf" | sed -n 's|.*/platform/\([^/]*\)/.*|\1|p')
    port=${intf##*/}         # 1-1:1.0
    path="platform-$platform-usb-0:${port#*-}"
    mkdir -p /dev/v4l/by-id /dev/v4l/by-path
    ln -sfn "../../$1" "/dev/v4l/by-id/usb-$serial-video-index0"
    ln -sfn "../../$1" "/dev/v4l/by-path/$path-video-index0"
    log "add $1 usb-$serial-video-index0 $path-video-index0"
}

remove() {  # remove videoN: every link to it
    for l in /dev/v4l/by-id/* /dev/v4l/by-path/*; do
        [ -L "$l" ] && [ "$(readlink "$l")" = "../../$1" ] && rm -f "$l" && log "remove $1 ${l##*/}"
    done
    return 0
}

if [ "${1:-}" = coldplug ]; then
    for d in /sys/class/video4linux/video*; do [ -e "$d" ] && add "${d##*/}"; done
    exit 0
fi
[ "${SUBSYSTEM:-}" = video4linux ] || exit 0
case "${ACTION:-}" in
    add) add "${DEVNAME##*/}" ;;
    remove) remove "${DEVNAME##*/}" ;;
esac
