#!/bin/sh
# make demo: record a take over D-Bus on the built-in synthetic camera and show what was written.
# A private dbus-daemon stands in for the system bus, so nothing on the machine is touched; the
# take stays in $DEMO_DIR (default /tmp/handrec-demo) for you to read back.
set -eu
BUILD=${BUILD:-build}
DEMO_DIR=${DEMO_DIR:-/tmp/handrec-demo}
SECONDS_=${DEMO_SECONDS:-5}

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR/takes"
cat >"$DEMO_DIR/handrecd.conf" <<CONF
# the demo's configuration: the shipped one (etc/handrecd.conf) with a temporary output folder
save = { output_dir = "$DEMO_DIR/takes"; jpeg_quality = 85; min_free_mb = 100; };
queue = { seconds = 3.0; batch_size = 10; batch_timeout = 0.5; };
workers = 2;
right_hand = { camera = { source = "synthetic"; width = 1280; height = 720; fps = 30.0; warmup = 0.5; }; };
left_hand  = { camera = { source = "synthetic"; width = 1280; height = 720; fps = 30.0; warmup = 0.5; }; };
CONF

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Checking the configuration"
"$BUILD/handrecd" --check-config --config "$DEMO_DIR/handrecd.conf"

say "Starting a private D-Bus and handrecd on it"
dbus-daemon --session --fork --print-address=3 --print-pid=4 --address="unix:dir=$DEMO_DIR" \
    3>"$DEMO_DIR/bus.address" 4>"$DEMO_DIR/bus.pid"
DBUS_SESSION_BUS_ADDRESS=$(cat "$DEMO_DIR/bus.address")
export DBUS_SESSION_BUS_ADDRESS
"$BUILD/handrecd" --user --config "$DEMO_DIR/handrecd.conf" 2>"$DEMO_DIR/handrecd.log" &
DAEMON=$!
cleanup() {
    kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    kill "$(cat "$DEMO_DIR/bus.pid")" 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 50); do "$BUILD/handrecctl" --user list >/dev/null 2>&1 && break; sleep 0.1; done
"$BUILD/handrecctl" --user status

say "Recording the right hand for $SECONDS_ s (handrecctl start --hand right --duration $SECONDS_ --follow)"
"$BUILD/handrecctl" --user start --hand right --duration "$SECONDS_" --label demo --follow | tee "$DEMO_DIR/take.out"
FILE=$(head -n 1 "$DEMO_DIR/take.out")

say "The same API from busctl, a client nobody here wrote"
busctl --user get-property org.handrec1 /org/handrec1/hand/right org.handrec1.Hand State FramesWritten BytesWritten

say "Stopping the daemon (SIGTERM: every open take is finished first)"
kill "$DAEMON"; wait "$DAEMON" || true
sed 's/^/  /' "$DEMO_DIR/handrecd.log"

say "What was written, read back with h5py (tools/handrec-info --check decodes every frame)"
/usr/bin/python3 tools/handrec-info --check "$FILE"

say "The file's layout (h5ls -r; docs/file-format.md explains it)"
h5ls -r "$FILE" | sed 's/^/  /'

say "Reading a frame back in Python"
cat <<PY
  import h5py; f = h5py.File("$FILE", "r")
  off, size = f["stereo/offset"][0], f["stereo/size"][0]
  jpeg = f["stereo/jpeg"][off:off + size].tobytes()
PY
/usr/bin/python3 - "$FILE" "$DEMO_DIR/frame0.jpg" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
off, size = int(f["stereo/offset"][0]), int(f["stereo/size"][0])
jpeg = f["stereo/jpeg"][off:off + size].tobytes()
open(sys.argv[2], "wb").write(jpeg)
print(f"  -> frame 0: {len(jpeg)} bytes of JPEG, both eyes side by side, saved as {sys.argv[2]}")
PY
echo
echo "The take is in $FILE"
