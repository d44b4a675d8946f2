#!/bin/sh
# Runs inside the test VM (tests/vm/vm.py), chrooted into the host's root, in the source tree.
# Drives a real handrecd against the kernel's vivid driver and leaves results for the host in
# /run/out: results.txt (key=value), the takes under takes/, and every log. The host's
# tests/vm/test_vm.py judges them; this script only records what happened.
set -u
OUT=/run/out
BUILD=${BUILD:-build}
KO=$(find /run/modules -name vivid.ko | head -n 1)
TMP=/run/vmtest  # /tmp is the host's, read-only here
mkdir -p "$TMP" "$OUT/takes"
: >"$OUT/results.txt"

say() { echo "guest: $*"; }
result() { echo "$1=$2" >>"$OUT/results.txt"; say "$1=$2"; }

# vivid: two instances, video capture nodes only, webcam input (discrete sizes and rates)
load_vivid() {
    busybox insmod "$KO" n_devs=2 node_types=0x1,0x1 input_types=0x0,0x0 || say "insmod vivid failed"
    for _ in $(seq 300); do [ -e /dev/video1 ] && break; sleep 0.1; done
}
unload_vivid() {
    for _ in $(seq 50); do busybox rmmod vivid 2>/dev/null && return 0; sleep 0.2; done
    say "rmmod vivid failed"
}

dbus-daemon --session --fork --print-address=3 --print-pid=4 --address="unix:dir=$TMP" 3>"$TMP/bus.address" 4>"$TMP/bus.pid"
export DBUS_SESSION_BUS_ADDRESS="$(cat "$TMP/bus.address")"
# every call bounded: a take that never ends must fail the test in a minute, not hang the VM
ctl() { timeout 120 "$BUILD/handrecctl" --user "$@"; }
prop() { busctl --user get-property org.handrec1 "/org/handrec1/hand/$1" org.handrec1.Hand "$2" 2>/dev/null | sed 's/^[a-z]* //; s/^"//; s/"$//'; }

# wait_state HAND STATE SECONDS → 0 when reached
wait_state() {
    i=0
    while [ $i -lt $(($3 * 5)) ]; do
        [ "$(prop "$1" State)" = "$2" ] && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}

# wait_written HAND N SECONDS → 0 once the hand's take has written N frames (a count, not a time)
wait_written() {
    i=0
    while [ $i -lt $(($3 * 5)) ]; do
        [ "$(prop "$1" FramesWritten)" -ge "$2" ] 2>/dev/null && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}

# wait_error HAND TEXT SECONDS → 0 once the hand's LastError holds TEXT (the camera was tried)
wait_error() {
    i=0
    while [ $i -lt $(($3 * 5)) ]; do
        prop "$1" LastError | grep -qF -- "$2" && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}

DAEMON=""
start_daemon() {  # start_daemon NAME CONFIG-TEXT
    printf '%s\n' "$2" >"$TMP/$1.conf"
    "$BUILD/handrecd" --user --config "$TMP/$1.conf" >"$OUT/$1.daemon.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 600); do ctl list >/dev/null 2>&1 && return 0; sleep 0.1; done
    say "handrecd ($1) did not come up"
}
stop_daemon() {
    kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null
    result "$1.daemon_exit" $?
}

conf() {  # conf HAND CAMERA-SETTINGS
    cat <<EOF
save = { output_dir = "$OUT/takes"; min_free_mb = 1; };
workers = 2;
${1}_hand = { camera = { source = "v4l2"; $2 }; };
EOF
}

say "kernel $(uname -r)"
load_vivid
ls -l /dev/video* >"$OUT/devices.ls" 2>&1
"$BUILD/handrecctl" devices >"$OUT/devices.txt" 2>&1
result devices_exit $?

# --- A: one device, both eyes side by side (vivid 640x360 YUYV = two 320x360 eyes) -------------
start_daemon sbs "$(conf right 'device = "/dev/video0"; format = "YUYV"; width = 320; height = 360; fps = 15.0; warmup = 1.0;')"
wait_state right idle 30; result sbs.warm $?
result sbs.camera_fps "$(prop right CameraFps)"
ctl status --hand right >"$OUT/sbs.status.out" 2>&1
ctl start --hand right --duration 4 --label sbs >"$OUT/sbs.start.out" 2>&1
result sbs.start_exit $?
ctl watch --hand right >"$OUT/sbs.watch.out" 2>&1
result sbs.file "$(head -n 1 "$OUT/sbs.start.out")"

# dropped buffers: vivid's "Percentage of Dropped Buffers"
v4l2-ctl -d /dev/video0 -c percentage_of_dropped_buffers=25 >"$OUT/drop.ctl.out" 2>&1
result drop.ctl_exit $?
ctl start --hand right --duration 4 --label drops >"$OUT/drop.start.out" 2>&1
ctl watch --hand right >"$OUT/drop.watch.out" 2>&1
result drop.file "$(head -n 1 "$OUT/drop.start.out")"
v4l2-ctl -d /dev/video0 -c percentage_of_dropped_buffers=0 >/dev/null 2>&1

# unplugged mid-take: vivid's Disconnect control, then the driver reloaded ("replugged")
ctl start --hand right --label unplug >"$OUT/unplug.start.out" 2>&1
result unplug.file "$(head -n 1 "$OUT/unplug.start.out")"
ctl watch --hand right >"$OUT/unplug.watch.out" 2>&1 &
WATCH=$!
wait_written right 20 120; result unplug.written $?
# vivid reconnects as soon as every handle on the node is closed: hold one, so that the camera
# stays unplugged until the checks below are done, whatever the daemon does meanwhile
exec 3</dev/video0
v4l2-ctl -d /dev/video0 -c disconnect=1 >"$OUT/unplug.ctl.out" 2>&1
result unplug.ctl_exit $?
wait $WATCH
result unplug.watch_exit $?
wait_state right no-device 20; result unplug.no_device $?
prop right LastError >"$OUT/unplug.lasterror.txt"
ctl start --hand right >"$OUT/unplug.refused.out" 2>&1
result unplug.start_while_missing_exit $?
exec 3<&-
unload_vivid
load_vivid
wait_state right idle 30; result unplug.back_idle $?
ctl start --hand right --duration 2 --label replugged >"$OUT/replug.start.out" 2>&1
ctl watch --hand right >"$OUT/replug.watch.out" 2>&1
result replug.file "$(head -n 1 "$OUT/replug.start.out")"
stop_daemon sbs

# --- A2: an episode on two cameras, one a hand; the right one unplugged mid-episode -------------
EPCONF="$(conf right 'device = "/dev/video0"; format = "YUYV"; width = 320; height = 360; fps = 15.0; warmup = 1.0;')
left_hand = { camera = { source = \"v4l2\"; device = \"/dev/video1\"; format = \"YUYV\"; width = 320; height = 360; fps = 15.0; warmup = 1.0; }; };"
start_daemon episode "$EPCONF"
wait_state right idle 30 && wait_state left idle 30; result episode.warm $?
ctl --json start --hand all --task unplug >"$OUT/episode.start.json" 2>"$OUT/episode.start.err"
result episode.start_exit $?
ctl watch >"$OUT/episode.watch.out" 2>&1 &
WATCH=$!
wait_written right 20 120 && wait_written left 20 120; result episode.written $?
exec 3</dev/video0  # held: vivid stays unplugged until the episode has ended
v4l2-ctl -d /dev/video0 -c disconnect=1 >/dev/null 2>&1
wait $WATCH
result episode.watch_exit $?
wait_state left idle 30; result episode.left_idle $?
exec 3<&-
unload_vivid
load_vivid
wait_state right idle 30; result episode.back_idle $?
stop_daemon episode

# --- B: two devices, one per eye, paired by timestamp ----------------------------------------
start_daemon pair "$(conf left 'left_device = "/dev/video0"; right_device = "/dev/video1"; format = "YUYV"; width = 640; height = 360; fps = 15.0; warmup = 1.0; controls = { brightness = 60; };')"
wait_state left idle 30; result pair.warm $?
# camera.controls: set on both devices of the pair alike
v4l2-ctl -d /dev/video0 --get-ctrl brightness >"$OUT/pair.left.ctrl" 2>&1
v4l2-ctl -d /dev/video1 --get-ctrl brightness >"$OUT/pair.right.ctrl" 2>&1
ctl start --hand left --duration 4 --label pair >"$OUT/pair.start.out" 2>&1
result pair.start_exit $?
ctl watch --hand left >"$OUT/pair.watch.out" 2>&1
result pair.file "$(head -n 1 "$OUT/pair.start.out")"
stop_daemon pair

# --- B2: format YUV420, the path through libv4l2's conversion (vivid offers YU12 itself) -----
start_daemon yu12 "$(conf right 'device = "/dev/video1"; format = "YUV420"; width = 320; height = 360; fps = 15.0; warmup = 0.5;')"
wait_state right idle 30; result yu12.warm $?
ctl start --hand right --duration 2 --label yu12 >"$OUT/yu12.start.out" 2>&1
ctl watch --hand right >"$OUT/yu12.watch.out" 2>&1
result yu12.file "$(head -n 1 "$OUT/yu12.start.out")"
stop_daemon yu12

# --- C: what the device cannot do: a size and a frame rate, refused with what it can do --------
start_daemon badsize "$(conf right 'device = "/dev/video0"; width = 100; height = 64; fps = 15.0;')"
wait_error right "cannot give" 60
result badsize.state "$(prop right State)"
prop right LastError >"$OUT/badsize.lasterror.txt"
ctl start --hand right >"$OUT/badsize.start.out" 2>&1
result badsize.start_exit $?
stop_daemon badsize
start_daemon badfps "$(conf right 'device = "/dev/video0"; width = 320; height = 360; fps = 7.0;')"
wait_error right "cannot give" 60
result badfps.state "$(prop right State)"
prop right LastError >"$OUT/badfps.lasterror.txt"
ctl start --hand right >"$OUT/badfps.start.out" 2>&1
result badfps.start_exit $?
stop_daemon badfps
# stable names work as device paths (the VM has no udev: make one the way udev would)
mkdir -p /dev/v4l/by-path
ln -sf ../../video1 /dev/v4l/by-path/platform-vivid.1-video-index0
start_daemon stable "$(conf right 'device = "/dev/v4l/by-path/platform-vivid.1-video-index0"; width = 320; height = 360; fps = 15.0; warmup = 0.5;')"
wait_state right idle 30; result stable.warm $?
"$BUILD/handrecctl" devices >"$OUT/devices-stable.txt" 2>&1
stop_daemon stable

# --- D: the camera's own controls (camera.controls) -------------------------------------------
# gain before the switch that unlocks it: the daemon sets gain_automatic first; the other way round,
# vivid's switch to manual would take its automatic gain as the manual value, not 77
CONTROLS='brightness = 200; contrast = 90; saturation = 30; hue = -20; gain = 77; gain_automatic = false;'
# --check-config checks them against the device present, every problem at its line
conf right "device = \"/dev/video0\"; width = 320; height = 360; fps = 15.0; controls = { $CONTROLS };" >"$TMP/ctl-good.conf"
"$BUILD/handrecd" --check-config --config "$TMP/ctl-good.conf" >"$OUT/ctl.check-good.out" 2>&1
result ctl.check_good_exit $?
conf right 'device = "/dev/video0"; width = 320; height = 360; fps = 15.0;
  controls = {
    brightnes = 1;
    contrast = 300;
    menu = 2;
    read_only_integer_32_bits = 1;
    button = true;
    string = 1;
  };' >"$TMP/ctl-bad.conf"
"$BUILD/handrecd" --check-config --config "$TMP/ctl-bad.conf" >"$OUT/ctl.check-bad.out" 2>&1
result ctl.check_bad_exit $?
# and at start: the daemon does not come up
"$BUILD/handrecd" --user --config "$TMP/ctl-bad.conf" >"$OUT/ctl.start-bad.out" 2>&1
result ctl.start_bad_exit $?

# set when the camera opens, read back by v4l2-ctl while the daemon runs, stored in the take
start_daemon ctl "$(conf right "device = \"/dev/video0\"; width = 320; height = 360; fps = 15.0; warmup = 0.5; controls = { $CONTROLS };")"
wait_state right idle 30; result ctl.warm $?
v4l2-ctl -d /dev/video0 --get-ctrl brightness,contrast,saturation,hue,gain_automatic,gain >"$OUT/ctl.running.ctrl" 2>&1
ctl start --hand right --duration 2 --label controls >"$OUT/ctl.start.out" 2>&1
ctl watch --hand right >"$OUT/ctl.watch.out" 2>&1
result ctl.file "$(head -n 1 "$OUT/ctl.start.out")"
# unplugged and replugged: vivid comes back with its defaults, the daemon sets the controls again
exec 3</dev/video0
v4l2-ctl -d /dev/video0 -c disconnect=1 >/dev/null 2>&1
wait_state right no-device 20; result ctl.no_device $?
exec 3<&-
unload_vivid
load_vivid
wait_state right idle 30; result ctl.back_idle $?
v4l2-ctl -d /dev/video0 --get-ctrl brightness,contrast,saturation,hue,gain_automatic,gain >"$OUT/ctl.replugged.ctrl" 2>&1
stop_daemon ctl

# a camera that appears after the start with a value it refuses: not opened, LastError says why
unload_vivid
start_daemon ctllate "$(conf right 'device = "/dev/video0"; width = 320; height = 360; fps = 15.0; controls = { brightness = 999; };')"
load_vivid
wait_error right "brightness = 999" 60
result ctl.late_state "$(prop right State)"
prop right LastError >"$OUT/ctl.late.lasterror.txt"
stop_daemon ctllate

kill "$(cat "$TMP/bus.pid")" 2>/dev/null
result done 1
