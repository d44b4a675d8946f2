#!/bin/sh
# Runs inside the test VM (tests/vm/vm.py) for the power-cut test (tests/vm/test_powercut.py),
# chrooted into the host's root, in the source tree, with the test's disk image as /dev/vda
# (ext4, made on the host). The host writes the phase into /run/out/phase:
#
#   record   mount the disk, start handrecd with its output on it, start a take and report the
#            progress to /run/out/progress.txt every 0.2 s, for ever: the host kills qemu
#            (the power cut) while the take goes on. Nothing here syncs or unmounts.
#   recover  mount the disk again (ext4 replays its journal), keep a copy of the take as the cut
#            left it, start handrecd (which recovers it at start), check it with
#            `handrecctl check`, and copy the takes back to the host.
#
# Results go to /run/out/results.txt (key=value); the host judges them.
set -u
OUT=/run/out
BUILD=${BUILD:-build}
TMP=/run/vmtest  # /tmp is the host's, read-only here
DISK=/run/disk
PHASE=$(cat "$OUT/phase")
mkdir -p "$TMP" "$DISK"
: >"$OUT/results.txt"

say() { echo "guest: $*"; }
result() { echo "$1=$2" >>"$OUT/results.txt"; say "$1=$2"; }

CONF="$TMP/powercut.conf"
# the synthetic camera draws each frame's number into its pixels: the host reads them back.
# durability and queue settings as the defaults, written out because the host's bound is
# computed from them (tests/vm/test_powercut.py)
cat >"$CONF" <<EOF
save = { output_dir = "$DISK/takes"; min_free_mb = 1; sync_interval = 1.0; };
queue = { batch_size = 10; batch_timeout = 0.5; };
workers = 2;
right_hand = { camera = { source = "synthetic"; width = 320; height = 240; fps = 30.0; warmup = 0.5; }; };
EOF

say "kernel $(uname -r), phase $PHASE"
mount -t ext4 /dev/vda "$DISK"
result mount_exit $?
# "write through": the guest knows of no volatile cache between it and the image file
result write_cache "$(cat /sys/block/vda/queue/write_cache)"
dmesg | grep -i -e ext4 -e jbd2 -e vda >"$OUT/dmesg-disk.txt" 2>&1

dbus-daemon --session --fork --print-address=3 --print-pid=4 --address="unix:dir=$TMP" 3>"$TMP/bus.address" 4>"$TMP/bus.pid"
export DBUS_SESSION_BUS_ADDRESS="$(cat "$TMP/bus.address")"
ctl() { "$BUILD/handrecctl" --user "$@"; }

DAEMON=""
start_daemon() {  # start_daemon NAME
    "$BUILD/handrecd" --user --config "$CONF" >"$OUT/$1.daemon.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 600); do ctl list >/dev/null 2>&1 && return 0; sleep 0.1; done
    say "handrecd ($1) did not come up"
    return 1
}

if [ "$PHASE" = record ]; then
    start_daemon record
    result daemon_up $?
    # Progress, every 0.2 s: the guest's CLOCK_MONOTONIC before and after reading the hand's
    # properties (one GetAll), then State, FramesCaptured, FramesWritten, FramesDropped. Every
    # frame counted in a line was captured before that line's second time. Each line is one
    # write to the 9p share, so the host sees it at once. It ends only if the take does (it
    # should not: the host cuts the power first). Started before the take, as Python takes a
    # while to start under TCG.
    cat >"$TMP/progress.py" <<'PY'
import sys, time
import dbus
out = open(sys.argv[1], "a", buffering=1)
hand = dbus.Interface(dbus.SessionBus().get_object("org.handrec1", "/org/handrec1/hand/right"),
                      "org.freedesktop.DBus.Properties")
seen = False
while True:
    a = time.monotonic_ns()
    try:
        p = hand.GetAll("org.handrec1.Hand")
    except dbus.DBusException as e:
        out.write(f"error {a} {time.monotonic_ns()} {e}\n")
        time.sleep(0.2)
        continue
    b = time.monotonic_ns()
    state = str(p["State"])
    out.write(f"progress {a} {b} {state} {int(p['FramesCaptured'])} {int(p['FramesWritten'])} "
              f"{int(p['FramesDropped'])}\n")
    seen = seen or state == "recording"
    if seen and state != "recording":
        out.write("ended\n")
        break
    time.sleep(0.2)
PY
    /usr/bin/python3 "$TMP/progress.py" "$OUT/progress.txt" &
    MONITOR=$!
    for _ in $(seq 600); do [ -s "$OUT/progress.txt" ] && break; sleep 0.1; done
    ctl start --hand right --label powercut >"$OUT/start.out" 2>&1
    result start_exit $?
    result file "$(head -n 1 "$OUT/start.out")"
    wait $MONITOR
    result progress_exit $?
    # only reached if the take ended by itself before the cut
    kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null
    result done 1
    exit 0
fi

# --- recover --------------------------------------------------------------------------------
find "$DISK" -ls >"$OUT/disk-before.ls" 2>&1
FILE=$(find "$DISK/takes" -name '*.h5' 2>/dev/null | head -n 1)
result file "$FILE"
result files_on_disk "$(find "$DISK/takes" -name '*.h5' 2>/dev/null | wc -l)"
# the take as the power cut left it, before the daemon touches it (for the host's diagnostics)
mkdir -p "$OUT/as-cut"
[ -n "$FILE" ] && cp "$FILE" "$OUT/as-cut/"
start_daemon recover
result daemon_up $?
# the daemon recovers the takes it finds still "recording" when it starts; wait until
# `handrecctl check` accepts the file (or give up after 120 s)
check=1
if [ -n "$FILE" ]; then
    for _ in $(seq 240); do
        ctl check "$FILE" >"$OUT/check.out" 2>&1
        check=$?
        [ $check -eq 0 ] && break
        grep -q "unknown command" "$OUT/check.out" && break
        sleep 0.5
    done
fi
result check_exit $check
busctl --user call org.handrec1 /org/handrec1 org.handrec1.Manager ListRecovered >"$OUT/list-recovered.out" 2>&1
result list_recovered_exit $?
ctl list >"$OUT/list.out" 2>&1
kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null
result daemon_exit $?
# checked again with the daemon gone: what an offline reader will find
[ -n "$FILE" ] && { "$BUILD/handrecctl" check "$FILE" >"$OUT/check-offline.out" 2>&1; result check_offline_exit $?; }
find "$DISK" -ls >"$OUT/disk-after.ls" 2>&1
cp -a "$DISK/takes" "$OUT/takes"
result copy_exit $?
kill "$(cat "$TMP/bus.pid")" 2>/dev/null
umount "$DISK"
result umount_exit $?
result done 1
