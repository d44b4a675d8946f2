#!/bin/sh
# Runs inside the systemd VM (tests/vm/systemd_vm.py) for tests/vm/test_service.py, as the oneshot
# unit handrec-vmtest.service once multi-user.target is reached; the VM powers off when it ends.
# The host writes the phase into /vmout/phase and the package's path into /vmout/deb:
#
#   install  dpkg -i the package (the overlay's upper layer, a disk image, keeps it)
#   check    (the next boot of the same image) the service as booted, then takes over the system
#            bus as a member of group handrec and as another user, stop and crash mid-take,
#            D-Bus activation, reload, systemd-analyze security; then a take from vivid, another
#            user trying to own org.handrec1, the watchdog (fault-io.so, which the host puts in
#            /vmout, holding the take's writes), systemctl restart dbus; then handrec-offload: as
#            booted, its user, priorities and bus policies, a take uploaded to an rclone remote of
#            type local and verified, the space policy removing it through DiscardTake, and a
#            missing rclone named
#
# Results go to /vmout/results.txt (key=value) and /vmout/*.txt; the host judges them.
set -u
OUT=/vmout
PHASE=$(cat "$OUT/phase")
: >"$OUT/results.txt"

say() { echo "guest: [$(cut -d" " -f1 /proc/uptime)] $*"; }
result() { echo "$1=$2" >>"$OUT/results.txt"; say "$1=$2"; }
prop() { systemctl show -p "$1" --value handrecd; }
newest() { ls -t /var/lib/handrec/right/*.h5 2>/dev/null | head -1; }
# wait_recording: until the right hand records frames (15 s at most)
wait_recording() {
    for _ in $(seq 75); do
        s=$(handrecctl status --hand right 2>&1)
        case "$s" in *recording:*) case "$s" in *"recording: 0 frames"*) ;; *) echo "$s"; return 0 ;; esac ;; esac
        sleep 0.2
    done
    echo "$s"
    return 1
}
# wait_idle SECONDS: until the right hand's camera is open and warm (a camera is no-device before)
wait_idle() {
    for _ in $(seq $(($1 * 5))); do
        s=$(handrecctl status --hand right 2>&1)
        case "$s" in *idle*) echo "$s"; return 0 ;; esac
        sleep 0.2
    done
    echo "$s"
    return 1
}
wait_active() {  # wait_active SECONDS
    for _ in $(seq $(($1 * 5))); do
        [ "$(prop ActiveState)" = active ] && return 0
        sleep 0.2
    done
    return 1
}

say "kernel $(uname -r), phase $PHASE, PID 1 $(cat /proc/1/comm)"
result pid1 "$(cat /proc/1/comm)"

if [ "$PHASE" = install ]; then
    # This machine's /usr/sbin/policy-rc.d (a container's, exit 101) would keep the postinst from
    # starting the service; and man-db's trigger takes minutes under TCG. Neither is the package's.
    rm -f /usr/sbin/policy-rc.d /var/lib/man-db/auto-update
    t0=$(cut -d' ' -f1 /proc/uptime)
    dpkg -i "$(cat "$OUT/deb")" >"$OUT/dpkg.txt" 2>&1
    result dpkg_exit $?
    result dpkg_seconds "$(awk -v a="$t0" '{print $1 - a}' /proc/uptime)"
    result enabled "$(systemctl is-enabled handrecd 2>&1)"
    result active_after_install "$(systemctl is-active handrecd 2>&1)"
    result passwd_handrec "$(getent passwd handrec)"
    result group_handrec "$(getent group handrec)"
    systemctl status --no-pager handrecd >"$OUT/status-install.txt" 2>&1
    result offload_enabled "$(systemctl is-enabled handrec-offload 2>&1)"
    result offload_active_after_install "$(systemctl is-active handrec-offload 2>&1)"
    result passwd_handrec_offload "$(getent passwd handrec-offload)"
    systemctl status --no-pager handrec-offload >>"$OUT/status-install.txt" 2>&1
    say "status done"
    # this machine's dpkg may be set to force-unsafe-io (a container's), and the VM is powered
    # off at once when this script ends: what dpkg wrote must be on the disk image first
    sync
    say "synced"
    exit 0
fi

# ---- 1. as booted: nobody started it
result uptime "$(cut -d' ' -f1 /proc/uptime)"
result boot_finished_us "$(systemctl show -p FinishTimestampMonotonic --value)"
for p in ActiveState SubState Type StatusText MainPID NRestarts User; do
    result "boot_$p" "$(prop $p)"
done
pid=$(prop MainPID)
result boot_ps_user "$(ps -o user= -p "$pid")"
result boot_ps_user_c "$(ps -o user= -C handrecd | tr -d ' ' | sort -u | tr '\n' ' ')"
result boot_groups "$(ps -o supgrp= -p "$pid")"
systemctl status --no-pager handrecd >"$OUT/status-boot.txt" 2>&1
result boot_status_exit $?
journalctl -b -u handrecd --no-pager >"$OUT/journal-boot.txt" 2>&1
# handrec-offload as booted (section 12 checks the rest)
for p in ActiveState SubState Type NRestarts User IOSchedulingClass Nice CPUSchedulingPolicy; do
    result "off_boot_$p" "$(systemctl show -p "$p" --value handrec-offload)"
done
systemctl status --no-pager handrec-offload >"$OUT/offload-status-boot.txt" 2>&1
journalctl -b -u handrec-offload --no-pager >"$OUT/offload-journal-boot.txt" 2>&1

# A small configuration for TCG: one camera at 320x240 (the shipped one has two at 1280x720).
# The package's configuration is a conffile: an administrator may edit it.
cp /etc/handrec/handrecd.conf "$OUT/shipped.conf"
cat >/etc/handrec/handrecd.conf <<EOF
save = { output_dir = "/var/lib/handrec"; min_free_mb = 1; sync_interval = 1.0; };
queue = { batch_size = 10; batch_timeout = 0.5; };
workers = 2;
right_hand = { camera = { source = "synthetic"; width = 320; height = 240; fps = 30.0; warmup = 0.5; }; };
EOF

# ---- 6. reload with no take: the configuration is read again (hands: 2 -> 1)
cursor=$(journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')
systemctl reload handrecd
result reload_exit $?
# the reload is a SIGHUP: wait (60 s at most) until the daemon lists the hands of the new file
for _ in $(seq 300); do [ "$(handrecctl list 2>/dev/null | wc -l)" = 1 ] && break; sleep 0.2; done
journalctl -u handrecd --after-cursor="$cursor" --no-pager >"$OUT/journal-reload.txt" 2>&1
result reload_hands "$(handrecctl list 2>&1 | tr '\n' ' ')"

# ---- 7. systemd-analyze security
systemd-analyze security --no-pager handrecd >"$OUT/security.txt" 2>&1
result security_exit $?
result security_overall "$(grep -o 'Overall exposure level for handrecd.service: .*' "$OUT/security.txt" | sed 's/\x1b\[[0-9;]*m//g')"

# ---- 2. takes over the system bus: alice in group handrec, bob not
useradd -m -G handrec alice
useradd -m bob
result alice_groups "$(id -nG alice)"
timeout 60 runuser -u alice -- handrecctl start --hand right --duration 2 --follow >"$OUT/alice-take.txt" 2>&1
result alice_take_exit $?
f=$(newest)
result alice_take_file "$f"
[ -n "$f" ] && cp "$f" "$OUT/alice-take.h5"
runuser -u alice -- handrecctl check "$f" >"$OUT/alice-check.txt" 2>&1
result alice_check_exit $?
runuser -u bob -- handrecctl start --hand right --duration 2 >"$OUT/bob-start.txt" 2>&1
result bob_start_exit $?
runuser -u bob -- handrecctl status >"$OUT/bob-status.txt" 2>&1
result bob_status_exit $?
# the preview over the system bus: alice may see the cameras, bob may not (OpenPreview's policy);
# the preview thread runs at nice 10 inside the unit's system call filter
runuser -u alice -- handrecctl snapshot --hand right --output /tmp/alice-snap.jpg >"$OUT/alice-snapshot.txt" 2>&1
result alice_snapshot_exit $?
result alice_snapshot_bytes "$(stat -c %s /tmp/alice-snap.jpg 2>/dev/null)"
runuser -u bob -- handrecctl snapshot --hand right --output /tmp/bob-snap.jpg >"$OUT/bob-snapshot.txt" 2>&1
result bob_snapshot_exit $?
runuser -u alice -- timeout 120 handrecctl preview --hand right --output - >/dev/null 2>"$OUT/alice-preview.txt" &
# until the preview thread runs (60 s at most)
for _ in $(seq 300); do ps -eLo comm= | grep -q '^hr-pv' && break; sleep 0.2; done
result preview_thread_nice "$(ps -eLo ni=,comm= | awk '$2 ~ /^hr-pv/ {print $1; exit}')"
pkill -INT -f 'handrecctl preview --hand right' 2>/dev/null
wait

# ---- 3. systemctl stop mid-take: the file is complete, reason shutdown
runuser -u alice -- handrecctl start --hand right --duration 60 >"$OUT/stop-start.txt" 2>&1
result stop_start_exit $?
wait_recording >"$OUT/stop-status.txt"
result stop_recording $?
f=$(newest)
systemctl stop handrecd
result stop_exit $?
result stop_state "$(prop ActiveState)"
result stop_file "$f"
handrecctl check "$f" >"$OUT/stop-check.txt" 2>&1
result stop_check_exit $?
cp "$f" "$OUT/stop-take.h5"

# ---- 4. SIGSEGV mid-take: systemd restarts it, the take is recovered
systemctl start handrecd
result crash_start_exit $?
restarts0=$(prop NRestarts)
runuser -u alice -- handrecctl start --hand right --duration 60 >"$OUT/crash-start.txt" 2>&1
result crash_start_take_exit $?
wait_recording >"$OUT/crash-status.txt"
result crash_recording $?
f=$(newest)
pid=$(prop MainPID)
cursor=$(journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')
kill -SEGV "$pid"
result crash_kill_exit $?
# RestartSec=2s, then recovery at start
for _ in $(seq 100); do
    [ "$(prop NRestarts)" != "$restarts0" ] && [ "$(prop ActiveState)" = active ] && break
    sleep 0.2
done
result crash_restarts "$restarts0 $(prop NRestarts)"
result crash_state "$(prop ActiveState)"
result crash_newpid "$(prop MainPID)"
result crash_oldpid "$pid"
result crash_file "$f"
journalctl -u handrecd --after-cursor="$cursor" --no-pager >"$OUT/journal-crash.txt" 2>&1
handrecctl check "$f" >"$OUT/crash-check.txt" 2>&1
result crash_check_exit $?
cp "$f" "$OUT/crash-take.h5"

# ---- 5. D-Bus activation: a call to org.handrec1 starts the stopped service
systemctl stop handrecd
result act_stopped "$(prop ActiveState)"
timeout 30 runuser -u bob -- busctl --system call org.handrec1 /org/handrec1 org.handrec1.Manager ListHands >"$OUT/activation.txt" 2>&1
result act_call_exit $?
wait_active 10
result act_state "$(prop ActiveState)"

# ---- 8. a take from vivid (loaded by the initramfs) over the system bus: one device, both eyes
# side by side (640x360 YUYV = two 320x360 eyes); the camera is reached through group video
# This machine has no udev, so the VM has none: give the node the group and mode that udev's
# 50-udev-default.rules gives video4linux devices (SUBSYSTEM=="video4linux", GROUP="video")
chgrp video /dev/video0 && chmod 0660 /dev/video0
ls -l /dev/video* >"$OUT/vivid-devices.txt" 2>&1
v4l2-ctl -d /dev/video0 --list-formats-ext >>"$OUT/vivid-devices.txt" 2>&1
cat >/etc/handrec/handrecd.conf <<EOF
save = { output_dir = "/var/lib/handrec"; min_free_mb = 1; sync_interval = 1.0; };
queue = { batch_size = 10; batch_timeout = 0.5; };
workers = 2;
right_hand = { camera = { source = "v4l2"; device = "/dev/video0"; format = "YUYV"; width = 320; height = 360; fps = 15.0; warmup = 1.0; }; };
EOF
cursor=$(journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')
date +%T.%N >"$OUT/vivid-times.txt"
systemctl restart handrecd
result vivid_restart_exit $?
date +%T.%N >>"$OUT/vivid-times.txt"
# a start at once, while the camera is still being opened (READY=1 comes before it, then 1 s of
# warm-up): the call waits for the camera, and the take is recorded
handrecctl status --hand right >"$OUT/vivid-early-status.txt" 2>&1
timeout 30 runuser -u alice -- handrecctl start --hand right --duration 1 --follow >"$OUT/vivid-early.txt" 2>&1
result vivid_early_exit $?
date +%T.%N >>"$OUT/vivid-times.txt"
journalctl -u handrecd --after-cursor="$cursor" -o short-precise --no-pager >"$OUT/journal-vivid.txt" 2>&1
cp "$(newest)" "$OUT/vivid-early.h5"
wait_idle 30 >"$OUT/vivid-status.txt"
result vivid_idle $?
timeout 60 runuser -u alice -- handrecctl start --hand right --duration 2 --follow >"$OUT/vivid-take.txt" 2>&1
result vivid_take_exit $?
f=$(newest)
result vivid_take_file "$f"
[ -n "$f" ] && cp "$f" "$OUT/vivid-take.h5"
runuser -u alice -- handrecctl check "$f" >"$OUT/vivid-check.txt" 2>&1
result vivid_check_exit $?
# the same early start through StartRecording itself (handrecctl start calls StartEpisode)
cursor=$(journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')
systemctl restart handrecd
result vivid_rec_restart_exit $?
handrecctl status --hand right >"$OUT/vivid-rec-status.txt" 2>&1
timeout 30 runuser -u alice -- busctl --system call org.handrec1 /org/handrec1 org.handrec1.Manager \
    StartRecording 'sa{sv}' right 1 duration d 1 >"$OUT/vivid-rec.txt" 2>&1
result vivid_rec_exit $?
wait_idle 30 >>"$OUT/vivid-rec-status.txt"
result vivid_rec_idle $?
journalctl -u handrecd --after-cursor="$cursor" -o short-precise --no-pager >"$OUT/journal-vivid-rec.txt" 2>&1
cp "$(newest)" "$OUT/vivid-rec.h5"

# ---- 9. nobody else may own org.handrec1 on the system bus
runuser -u bob -- dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.RequestName string:org.handrec1 uint32:4 >"$OUT/bob-own.txt" 2>&1
result bob_own_exit $?
result bob_own_error "$(grep -o 'org\.freedesktop\.DBus\.Error\.[A-Za-z]*' "$OUT/bob-own.txt" | head -1)"

# ---- 10. the watchdog restarts a hung daemon: fault-io.so holds every write to a take while
# /run/handrec-hold exists; the daemon stops feeding the watchdog, systemd kills and restarts it
install -m 0644 "$OUT/fault-io.so" /usr/local/lib/fault-io.so
mkdir -p /etc/systemd/system/handrecd.service.d
cat >/etc/systemd/system/handrecd.service.d/50-watchdog-test.conf <<EOF
[Service]
Environment=LD_PRELOAD=/usr/local/lib/fault-io.so HANDREC_FAULT=hold=/run/handrec-hold
WatchdogSec=4s
EOF
systemctl daemon-reload
systemctl restart handrecd
result wd_restart_exit $?
result wd_WatchdogUSec "$(prop WatchdogUSec)"
wait_idle 30 >/dev/null
restarts0=$(prop NRestarts)
runuser -u alice -- handrecctl start --hand right --duration 60 >"$OUT/wd-start.txt" 2>&1
result wd_start_take_exit $?
wait_recording >"$OUT/wd-status.txt"
result wd_recording $?
f=$(newest)
pid=$(prop MainPID)
cursor=$(journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')
t0=$(cut -d' ' -f1 /proc/uptime)
touch /run/handrec-hold
# the daemon notices after WatchdogSec/2, systemd kills it WatchdogSec after its last WATCHDOG=1
for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
result wd_killed_after "$(awk -v a="$t0" '{print $1 - a}' /proc/uptime)"
rm -f /run/handrec-hold
for _ in $(seq 100); do
    [ "$(prop NRestarts)" != "$restarts0" ] && [ "$(prop ActiveState)" = active ] && break
    sleep 0.2
done
result wd_restarts "$restarts0 $(prop NRestarts)"
result wd_state "$(prop ActiveState)"
result wd_newpid "$(prop MainPID)"
result wd_oldpid "$pid"
result wd_file "$f"
# the new daemon's recovery in the journal (60 s at most)
for _ in $(seq 300); do
    journalctl -u handrecd --after-cursor="$cursor" --no-pager 2>/dev/null | grep -q Recovered && break
    sleep 0.2
done
journalctl -u handrecd --after-cursor="$cursor" --no-pager >"$OUT/journal-watchdog.txt" 2>&1
handrecctl check "$f" >"$OUT/wd-check.txt" 2>&1
result wd_check_exit $?
cp "$f" "$OUT/wd-take.h5"
rm -f /etc/systemd/system/handrecd.service.d/50-watchdog-test.conf
rmdir /etc/systemd/system/handrecd.service.d 2>/dev/null
systemctl daemon-reload
systemctl restart handrecd
result wd_clean_restart_exit $?
result wd_clean_WatchdogUSec "$(prop WatchdogUSec)"
result wd_clean_environ "$(tr '\0' '\n' <"/proc/$(prop MainPID)/environ" | grep -c '^LD_PRELOAD=')"

# ---- 11. the system bus restarts: handrecd exits with a failure and systemd starts it again
wait_active 10
restarts0=$(prop NRestarts)
pid=$(prop MainPID)
cursor=$(journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')
timeout 60 systemctl restart dbus
result bus_restart_exit $?
for _ in $(seq 100); do
    [ "$(prop NRestarts)" != "$restarts0" ] && [ "$(prop ActiveState)" = active ] && break
    sleep 0.2
done
result bus_restarts "$restarts0 $(prop NRestarts)"
result bus_state "$(prop ActiveState)"
result bus_newpid "$(prop MainPID)"
result bus_oldpid "$pid"
wait_idle 30 >/dev/null # the new daemon's camera opens after READY=1, as at boot
timeout 30 runuser -u bob -- handrecctl status >"$OUT/bus-status.txt" 2>&1
result bus_status_exit $?
journalctl -u handrecd --after-cursor="$cursor" --no-pager >"$OUT/journal-bus.txt" 2>&1

# ---- 12. handrec-offload, as packaged: started at boot with no offload group (idle, "off"), its
# user, groups, priorities and bus name; then uploads to an rclone remote of type local
oprop() { systemctl show -p "$1" --value handrec-offload; }
ostatus() {  # ostatus USER: Status() as USER, one line
    runuser -u "$1" -- busctl --system call org.handrec1.Offload /org/handrec1/offload org.handrec1.Offload Status 2>&1 | tr '\n' ' '
}
# wait_state FILE STATE SECONDS: until the take's state file says STATE
wait_state() {
    sf=/var/lib/handrec-offload/right/$(basename "$1").state
    for _ in $(seq $(($3 * 5))); do
        [ "$(head -n1 "$sf" 2>/dev/null)" = "state=$2" ] && return 0
        sleep 0.2
    done
    return 1
}
# the system bus restarted just above: it lost the bus like handrecd, and systemd restarts it
for _ in $(seq 100); do
    [ "$(oprop ActiveState)" = active ] && break
    sleep 0.2
done
result off_after_bus_state "$(oprop ActiveState)"
result off_after_bus_NRestarts "$(oprop NRestarts)"
pid=$(oprop MainPID)
result off_ps_user "$(ps -o user= -p "$pid")"
result off_groups "$(ps -o supgrp= -p "$pid")"
result off_ps_ni "$(ps -o ni= -p "$pid" | tr -d ' ')"
result off_ps_policy "$(ps -o cls= -p "$pid" | tr -d ' ')"
result off_ionice "$(ionice -p "$pid" 2>&1)"
result off_uid "$(id -u handrec-offload)"
result off_bus_uid "$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetConnectionUnixUser s org.handrec1.Offload 2>&1)"
result off_user_groups "$(id -nG handrec-offload)"
result off_state_dir "$(stat -c '%a %U %G' /var/lib/handrec-offload 2>&1)"
result off_status_bob "$(ostatus bob)"
systemd-analyze security --no-pager handrec-offload >"$OUT/offload-security.txt" 2>&1
result off_security_exit $?
result off_security_overall "$(grep -o 'Overall exposure level for handrec-offload.service: .*' "$OUT/offload-security.txt" | sed 's/\x1b\[[0-9;]*m//g')"
# the policies: Retry for group handrec only; the uploader may discard takes but not start them
runuser -u bob -- busctl --system call org.handrec1.Offload /org/handrec1/offload org.handrec1.Offload Retry >"$OUT/offload-bob-retry.txt" 2>&1
result off_bob_retry_exit $?
runuser -u alice -- busctl --system call org.handrec1.Offload /org/handrec1/offload org.handrec1.Offload Retry >"$OUT/offload-alice-retry.txt" 2>&1
result off_alice_retry_exit $?
runuser -u handrec-offload -- busctl --system call org.handrec1 /org/handrec1 org.handrec1.Manager \
    StartRecording 'sa{sv}' right 0 >"$OUT/offload-user-start.txt" 2>&1
result off_user_start_exit $?
runuser -u handrec-offload -- busctl --system call org.handrec1 /org/handrec1 org.handrec1.Manager \
    DiscardTake s /var/lib/handrec/right/no-such-take.h5 >"$OUT/offload-user-discard.txt" 2>&1
result off_user_discard_exit $?
runuser -u bob -- busctl --system call org.handrec1 /org/handrec1 org.handrec1.Manager \
    DiscardTake s /var/lib/handrec/right/no-such-take.h5 >"$OUT/offload-bob-discard.txt" 2>&1
result off_bob_discard_exit $?

# An rclone remote of type local, in a config file made as the README says (0640
# root:handrec-offload); the folder allowed to the unit with a drop-in, as its comment says. The
# earlier takes are back on the host already: only the next ones are uploaded.
mkdir -p /srv/takes-remote
chown handrec-offload:handrec-offload /srv/takes-remote
printf '[vmremote]\ntype = local\n' >/etc/handrec/rclone.conf
chown root:handrec-offload /etc/handrec/rclone.conf
chmod 0640 /etc/handrec/rclone.conf
mkdir -p /etc/systemd/system/handrec-offload.service.d
printf '[Service]\nReadWritePaths=/srv/takes-remote\n' >/etc/systemd/system/handrec-offload.service.d/50-remote.conf
rm -f /var/lib/handrec/right/*.h5
conf_offload() {  # conf_offload EXTRA-SETTINGS: the small synthetic configuration with an offload group
    cat >/etc/handrec/handrecd.conf <<EOF
save = { output_dir = "/var/lib/handrec"; min_free_mb = 1; sync_interval = 1.0; };
queue = { batch_size = 10; batch_timeout = 0.5; };
workers = 2;
right_hand = { camera = { source = "synthetic"; width = 320; height = 240; fps = 30.0; warmup = 0.5; }; };
offload = { remote = "vmremote:/srv/takes-remote"; retry_seconds = 1.0; retry_max_seconds = 2.0; $1 };
EOF
}
conf_offload ""
cp /etc/handrec/handrecd.conf "$OUT/offload.conf"
systemctl daemon-reload
systemctl restart handrecd
result up_handrecd_restart_exit $?
cursor=$(journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')
systemctl restart handrec-offload
result up_restart_exit $?
result up_state "$(oprop ActiveState)"
wait_idle 30 >/dev/null
timeout 60 runuser -u alice -- handrecctl start --hand right --duration 2 --follow >"$OUT/up-take.txt" 2>&1
result up_take_exit $?
f=$(newest)
result up_file "$f"
wait_state "$f" uploaded-verified 60
result up_verified $?
sf=/var/lib/handrec-offload/right/$(basename "$f").state
cp "$sf" "$OUT/up-take.state" 2>/dev/null
result up_state_file_mode "$(stat -c '%a %U' "$sf" 2>&1)"
result up_state_hand_dir "$(stat -c '%a %U' /var/lib/handrec-offload/right 2>&1)"
result up_local_size "$(stat -c %s "$f")"
cmp "$f" "/srv/takes-remote/right/$(basename "$f")" >"$OUT/up-cmp.txt" 2>&1
result up_cmp_exit $?
[ -n "$f" ] && cp "$f" "$OUT/up-take.h5"
result up_status "$(ostatus bob)"
# handrecd's user can read the state: what its StorageFull sentence needs
result up_state_readable_by_handrec "$(runuser -u handrec -- head -n1 "$sf" 2>&1)"
journalctl -u handrec-offload --after-cursor="$cursor" --no-pager >"$OUT/journal-upload.txt" 2>&1

# The space policy removes the verified take through handrecd's DiscardTake (the bus policy of
# org.handrec1 lets user handrec-offload call it): max_takes_gb below any take
conf_offload "max_takes_gb = 0.000000001;"
systemctl restart handrec-offload
result space_restart_exit $?
for _ in $(seq 150); do
    [ -e "$f" ] || break
    sleep 0.2
done
result space_local_gone "$([ -e "$f" ] && echo no || echo yes)"
result space_remote_kept "$([ -e "/srv/takes-remote/right/$(basename "$f")" ] && echo yes || echo no)"
result space_state_gone "$([ -e "$sf" ] && echo no || echo yes)"
journalctl -u handrecd -u handrec-offload --after-cursor="$cursor" --no-pager >"$OUT/journal-space.txt" 2>&1

# Without the rclone program: the failure names it (in Status's LastError or the journal)
conf_offload 'rclone = "/usr/local/bin/rclone-not-installed";'
cursor=$(journalctl -n0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p')
systemctl restart handrec-offload
timeout 60 runuser -u alice -- handrecctl start --hand right --duration 1 --follow >/dev/null 2>&1
f=$(newest)
wait_state "$f" failed 30
result norclone_failed $?
result norclone_status "$(ostatus bob)"
journalctl -u handrec-offload --after-cursor="$cursor" --no-pager >"$OUT/journal-norclone.txt" 2>&1
result norclone_named "$(cat "$OUT/journal-norclone.txt" | grep -c 'rclone-not-installed')"

journalctl -b --no-pager >"$OUT/journal-all.txt" 2>&1
sync
exit 0
