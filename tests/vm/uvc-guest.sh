#!/bin/sh
# Runs inside the test VM (tests/vm/vm.py, with vhci-hcd and uvcvideo loaded), chrooted into the
# host's root, in the source tree. Two USB Video Class cameras (tests/uvc: $BUILD/uvc-camera),
# attached over USB/IP on loopback with the kernel's own usbip tools, reach handrecd through
# vhci-hcd and uvcvideo; this script drives handrecd against them and leaves for the host in
# /run/out: results.txt (key=value), the takes under takes/, the cameras' logs (cam-*.log: every
# frame sent, every control set) and every other log. tests/vm/test_uvc.py judges them; this
# script only records what happened. Settings from the host: /run/out/params (KEY=VALUE lines).
set -u
OUT=/run/out
BUILD=${BUILD:-build}
TMP=/run/vmtest # /tmp is the host's, read-only here
mkdir -p "$TMP" "$OUT/takes"
: >"$OUT/results.txt"
# shellcheck source=/dev/null
. "$OUT/params" # INPUTS (frames, calibration); PASS_W, PASS_H (one eye), PASS_FPS, PASS_SECONDS, REPLAY_SECONDS

say() { echo "guest: [$(cut -d" " -f1 /proc/uptime)] $*"; }
result() { echo "$1=$2" >>"$OUT/results.txt"; say "$1=$2"; }
now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

# ---- the cameras and their stable names ----------------------------------------------------

ip link set lo up
UVC_UDEV_LOG=$OUT/udev.log busybox uevent sh tests/vm/uvc-udev.sh &
UDEV=$!
BYID=/dev/v4l/by-id/usb-handrec_Stereo_UVC_Camera
LEFT_DEV=${BYID}_LEFT0001-video-index0
RIGHT_DEV=${BYID}_RIGHT0001-video-index0

# camera NAME PORT SERIAL: start one, wait until it listens (if it ever ends, its log says how)
camera() {
    (
        "$BUILD/uvc-camera" --frames "$INPUTS/frames" --port "$2" --busid 1-1 --serial "$3" --log "$OUT/cam-$1.log"
        echo "uvc-camera $1 ended: exit status $? at [$(cut -d" " -f1 /proc/uptime)]" >&2
    ) 2>"$OUT/cam-$1.err" &
    for _ in $(seq 600); do grep -q listening "$OUT/cam-$1.err" && return 0; sleep 0.1; done
    say "camera $1 did not start"
}
# attach PORT: the camera on PORT plugged in (vhci-hcd); its vhci port number is printed once
# `usbip port` lists it (it may not at once: an empty number would detach port 0, the other camera)
attach() {
    usbip --tcp-port "$1" attach -r 127.0.0.1 -b 1-1 >>"$OUT/usbip.log" 2>&1 || say "usbip attach $1 failed"
    until_=$(($(date +%s) + 60))
    while [ "$(date +%s)" -lt $until_ ]; do
        n=$(usbip port 2>/dev/null | awk -v p="$1" '/^Port/ {n = $2 + 0} $0 ~ "127.0.0.1:" p "/" {print n}')
        [ -n "$n" ] && echo "$n" && return 0
        sleep 0.1
    done
    say "usbip port never listed the camera on $1" >&2
    echo none
}
wait_path() { # wait_path PATH SECONDS → 0 once it exists (seconds of the clock, not of loops)
    until_=$(($(date +%s) + $2))
    while [ "$(date +%s)" -lt $until_ ]; do [ -e "$1" ] && return 0; sleep 0.05; done
    return 1
}

camera left 3240 LEFT0001
camera right 3241 RIGHT0001
LEFT_PORT=$(attach 3240)
RIGHT_PORT=$(attach 3241)
result attach.ports "$LEFT_PORT,$RIGHT_PORT"
wait_path "$LEFT_DEV" 60 && wait_path "$RIGHT_DEV" 60
result attach.names $?
ls -l /dev/v4l/by-id /dev/v4l/by-path >"$OUT/names.ls" 2>&1
usbip port >"$OUT/usbip-port.txt" 2>&1
v4l2-ctl -d "$RIGHT_DEV" --list-formats-ext --list-ctrls-menus >"$OUT/v4l2-right.txt" 2>&1

# ---- handrecd on a private bus ---------------------------------------------------------------

dbus-daemon --session --fork --print-address=3 --print-pid=4 --address="unix:dir=$TMP" 3>"$TMP/bus.address" 4>"$TMP/bus.pid"
DBUS_SESSION_BUS_ADDRESS="$(cat "$TMP/bus.address")"
export DBUS_SESSION_BUS_ADDRESS
ctl() { timeout 120 "$BUILD/handrecctl" --user "$@"; }
prop() { busctl --user get-property org.handrec1 "/org/handrec1/hand/$1" org.handrec1.Hand "$2" 2>/dev/null | sed 's/^[a-z]* //; s/^"//; s/"$//'; }

# wait_prop HAND PROPERTY TEST VALUE SECONDS → 0 once `[ "$(prop)" TEST VALUE ]` holds
wait_prop() {
    until_=$(($(date +%s) + $5))
    while [ "$(date +%s)" -lt $until_ ]; do
        test "$(prop "$1" "$2")" "$3" "$4" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
wait_state() { wait_prop "$1" State = "$2" "$3"; }
wait_written() { wait_prop "$1" FramesWritten -ge "$2" "$3"; }

DAEMON=""
start_daemon() { # start_daemon NAME CONFIG-TEXT
    printf '%s\n' "$2" >"$TMP/$1.conf"
    "$BUILD/handrecd" --user --config "$TMP/$1.conf" >"$OUT/$1.daemon.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 600); do ctl list >/dev/null 2>&1 && return 0; sleep 0.1; done
    say "handrecd ($1) did not come up"
}
stop_daemon() { # SIGTERM; one that has not exited in 120 s is killed (its exit status says so)
    kill "$DAEMON" 2>/dev/null
    until_=$(($(date +%s) + 120))
    while kill -0 "$DAEMON" 2>/dev/null && [ "$(date +%s)" -lt $until_ ]; do sleep 0.1; done
    kill -9 "$DAEMON" 2>/dev/null
    wait "$DAEMON" 2>/dev/null
    result "$1.daemon_exit" $?
}
# names_still SCENARIO: before each scenario after the first, both cameras' names are still there
# (names.SCENARIO=0); when one is not, what the guest knows of the cameras goes to lost-SCENARIO.txt
names_still() {
    if [ -e "$LEFT_DEV" ] && [ -e "$RIGHT_DEV" ]; then
        result "names.$1" 0
        return 0
    fi
    result "names.$1" 1
    {
        echo "--- /dev/v4l"; ls -lR /dev/v4l
        echo "--- /sys/class/video4linux"; ls -l /sys/class/video4linux
        echo "--- usbip port"; usbip port
        echo "--- processes"; ps -eo pid,stat,etime,args | grep -v "\[" | head -30
        echo "--- the kernel's last lines"; dmesg | grep -v "unlink->seqnum\|urb->status\|already given back" | tail -60
    } >"$OUT/lost-$1.txt" 2>&1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$DAEMON/stat"; }

hand() { # hand NAME CAMERA-SETTINGS
    echo "${1}_hand = { camera = { $2 }; };"
}
SAVE="save = { output_dir = \"$OUT/takes\"; min_free_mb = 1; }; workers = 2;"
# the long takes go to the guest's memory first, then to the host: written over the 9p share while
# recorded, on a loaded machine, the share's speed would be what they measured
SAVE_RAM="save = { output_dir = \"$TMP/takes\"; min_free_mb = 1; }; workers = 2;"
keep_takes() { # keep_takes NAME: the takes of NAME (and its start.json) moved to $OUT/takes
    cp -r "$TMP/takes/." "$OUT/takes/" && rm -rf "$TMP/takes" && mkdir -p "$TMP/takes"
    sed -i "s|$TMP/takes/|$OUT/takes/|g" "$OUT/$1.start.json"
}
mkdir -p "$TMP/takes"
uvc() { # uvc DEVICE FORMAT EYE-W H FPS [MORE]
    echo "source = \"v4l2\"; device = \"$1\"; format = \"$2\"; width = $3; height = $4; fps = $5; warmup = 1.0; ${6:-}"
}
RIGHT_CONTROLS='controls = { brightness = 20; contrast = 60; gain = 30; white_balance_automatic = false; white_balance_temperature = 5000; auto_exposure = 1; exposure_time_absolute = 100; };'
# the names Linux had before 5.x for three of them (handrecd takes either)
LEFT_CONTROLS='controls = { brightness = -10; contrast = 40; gain = 10; white_balance_temperature_auto = false; white_balance_temperature = 3500; exposure_auto = 1; exposure_absolute = 250; };'

say "kernel $(uname -r)"
"$BUILD/handrecctl" devices >"$OUT/devices.txt" 2>&1
result devices_exit $?

# ---- P: both hands, MJPEG passthrough, camera.controls by v4l2-ctl's names ------------------
# (the left hand by the names Linux had before 5.x for three of them; handrecd takes either)

start_daemon pass "$SAVE_RAM
$(hand left "$(uvc "$LEFT_DEV" MJPEG "$PASS_W" "$PASS_H" "$PASS_FPS" "$LEFT_CONTROLS")")
$(hand right "$(uvc "$RIGHT_DEV" MJPEG "$PASS_W" "$PASS_H" "$PASS_FPS" "$RIGHT_CONTROLS")")"
wait_state left idle 60 && wait_state right idle 60
result pass.warm $?
CTRLS=brightness,contrast,gain,white_balance_automatic,white_balance_temperature,auto_exposure,exposure_time_absolute
v4l2-ctl -d "$LEFT_DEV" --get-ctrl "$CTRLS" >"$OUT/pass.left.ctrl" 2>&1
v4l2-ctl -d "$RIGHT_DEV" --get-ctrl "$CTRLS" >"$OUT/pass.right.ctrl" 2>&1
ctl status >"$OUT/pass.status.out" 2>&1
t0=$(cpu_ticks)
ctl --json start --hand all --duration "$PASS_SECONDS" --label pass >"$OUT/pass.start.json" 2>"$OUT/pass.start.err"
result pass.start_exit $?
ctl watch >"$OUT/pass.watch.out" 2>&1
result pass.cpu_ticks $(($(cpu_ticks) - t0))
stop_daemon pass
keep_takes pass

# ---- R: the same stream from a replay folder, for the daemon's CPU per frame against P --------

# (the files copied to a tmpfs first: read over the guest's 9p share, they would cost it more than
# the frames themselves)
cp -r "$INPUTS/frames/$((2 * PASS_W))x$PASS_H" "$TMP/replay"
REPLAY="source = \"replay\"; path = \"$TMP/replay\"; rate = \"realtime\"; loop = true; format = \"MJPEG\"; width = $PASS_W; height = $PASS_H; fps = $PASS_FPS; warmup = 1.0;"
names_still replay
start_daemon replay "$SAVE_RAM
$(hand left "$REPLAY")
$(hand right "$REPLAY")"
wait_state left idle 60 && wait_state right idle 60
result replay.warm $?
t0=$(cpu_ticks)
ctl --json start --hand all --duration "$REPLAY_SECONDS" --label replay >"$OUT/replay.start.json" 2>"$OUT/replay.start.err"
result replay.start_exit $?
ctl watch >"$OUT/replay.watch.out" 2>&1
result replay.cpu_ticks $(($(cpu_ticks) - t0))
stop_daemon replay
keep_takes replay
result clk_tck "$(getconf CLK_TCK)"

# ---- X: the rectified path from the same MJPEG stream (decoded, rectified, encoded) on the
# right hand, and YUYV 640x480 (two 320x480 eyes, encoded by handrecd) on the left: one daemon ----

names_still rect
start_daemon rect "$SAVE
right_hand = { calibration = \"$INPUTS/calibration-640x480.yml\"; rectify = true; camera = { $(uvc "$RIGHT_DEV" MJPEG 640 480 "$PASS_FPS") }; };
$(hand left "$(uvc "$LEFT_DEV" YUYV 320 480 15.0)")"
wait_state right idle 60 && wait_state left idle 60
result rect.warm $?
ctl --json start --hand all --duration 4 --label rect >"$OUT/rect.start.json" 2>"$OUT/rect.start.err"
result rect.start_exit $?
ctl watch >"$OUT/rect.watch.out" 2>&1
stop_daemon rect

# ---- B: a mode its USB link cannot carry: MJPEG 2560x720 at 60 fps ----------------------------
# The camera needs more bytes a microframe than its largest alternate setting has. uvcvideo 6.1
# does not refuse it (it clamps the camera's request to the endpoint's size), nor does vhci-hcd
# (it keeps no bandwidth account): the camera sends what its link carries, and skips the rest.

names_still bus
start_daemon bus "$SAVE
$(hand right "$(uvc "$RIGHT_DEV" MJPEG 1280 720 60.0)")"
wait_state right idle 60
result bus.warm $?
result bus.camera_fps "$(prop right CameraFps)"
prop right LastError >"$OUT/bus.lasterror.txt"
ctl status --hand right >"$OUT/bus.status.out" 2>&1
ctl start --hand right --duration 3 --label bus >"$OUT/bus.start.out" 2>&1
result bus.start_exit $?
ctl watch --hand right >"$OUT/bus.watch.out" 2>&1
result bus.file "$(head -n 1 "$OUT/bus.start.out")"
stop_daemon bus

# ---- U: unplugged mid-take (usbip detach: a USB disconnect), then plugged in again ------------
# (last: Debian 12's kernel, 6.1, can oops in v4l2_release() when the last close of a node races
# uvcvideo's disconnect, killing the thread that closed it; nothing after it should depend on that)

names_still unplug
start_daemon unplug "$SAVE
$(hand right "$(uvc "$RIGHT_DEV" MJPEG "$PASS_W" "$PASS_H" "$PASS_FPS" "$RIGHT_CONTROLS")")"
wait_state right idle 60
result unplug.warm $?
ctl start --hand right --label unplug >"$OUT/unplug.start.out" 2>&1
result unplug.file "$(head -n 1 "$OUT/unplug.start.out")"
ctl watch --hand right >"$OUT/unplug.watch.out" 2>&1 &
WATCH=$!
wait_written right 20 120
result unplug.written $?
t=$(now_ns)
usbip detach -p "$RIGHT_PORT" >>"$OUT/usbip.log" 2>&1
result unplug.detach_exit $?
result unplug.detach_cmd_ms "$(ms_since "$t")"
wait_prop right State != recording 60
result unplug.ended $?
result unplug.lost_ms "$(ms_since "$t")"
wait $WATCH
result unplug.watch_exit $?
wait_state right no-device 30
result unplug.no_device $?
prop right LastError >"$OUT/unplug.lasterror.txt"
ctl start --hand right >"$OUT/unplug.refused.out" 2>&1
result unplug.start_while_missing_exit $?
t=$(now_ns)
RIGHT_PORT=$(attach 3241)
result replug.attach_cmd_ms "$(ms_since "$t")"
wait_path "$RIGHT_DEV" 60
result replug.name_ms "$(ms_since "$t")"
wait_state right idle 60
result replug.idle $?
result replug.ready_ms "$(ms_since "$t")"
v4l2-ctl -d "$RIGHT_DEV" --get-ctrl "$CTRLS" >"$OUT/replug.right.ctrl" 2>&1
ctl start --hand right --duration 2 --label replugged >"$OUT/replug.start.out" 2>&1
ctl watch --hand right >"$OUT/replug.watch.out" 2>&1
result replug.file "$(head -n 1 "$OUT/replug.start.out")"
stop_daemon unplug

dmesg >"$OUT/dmesg.txt" 2>&1
kill "$UDEV" 2>/dev/null
result "done" 1
