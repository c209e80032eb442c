#!/bin/sh
# Real QEMU (10.0, or 11.1 with PRECOPY_INFOv2) live-migrates guests that own
# simulated VFs: two instances per migration over loopback TCP, return-path and
# switchover-ack on, precopy on.
# The device state that arrives equals the state that left; a cancelled
# precopy, an incompatible destination, a corrupt stream and a SAVE that
# mlx5_core completes by force all leave the
# source VM running with a usable device; migrations go back and forth. Another
# firmware build migrates only when the destination's operator allows it.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=qemu.sh
. "${TESTS_DIR:-$(dirname "$0")}/qemu.sh"

[ -n "${VM_QEMU:-}" ] && [ -x "$VM_QEMU" ] || skip_all "no QEMU in this initramfs"
mark=$(dmesg_mark 04-migrate)
vfs=$(sim_vfs 2) || bail_out "could not bind two simulated VFs"
a=$(echo "$vfs" | sed -n 1p)
b=$(echo "$vfs" | sed -n 2p)
ok "two simulated VFs: $a, $b"
port=4440

# migrate_between SRC_NAME DST_NAME DST_BDF: start DST incoming, migrate SRC to it.
migrate_between() {
	port=$((port + 1))
	qemu_start "$2" "$3" -incoming defer || return 1
	mig_caps "$1"
	mig_caps "$2"
	hmp "$2" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp "$1" "migrate -d tcp:127.0.0.1:$port" >/dev/null
	migrate_wait "$1" 60
}

# held_precopy SRC DST DST_BDF SRC_BDF: start DST incoming and migrate SRC to it at
# 64 KiB/s, so that precopy lasts until the test cancels or raises the bandwidth;
# returns once the source VF is in PRE_COPY.
held_precopy() {
	port=$((port + 1))
	qemu_start "$2" "$3" -incoming defer || bail_out "destination QEMU did not start"
	mig_caps "$1"
	mig_caps "$2"
	hmp "$1" "migrate_set_parameter max-bandwidth 64k" >/dev/null
	hmp "$2" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp "$1" "migrate -d tcp:127.0.0.1:$port" >/dev/null
	wait_precopy "$1" "$4"
}

# 1. A -> B with precopy: the state that left is the state that arrived.
# QEMU 11.1 opts into PRECOPY_INFOv2 at migration setup and traces whether it could.
qemu_start srcA "$a" -trace vfio_migration_init || bail_out "source QEMU did not start: $(cat "$RUN/srcA.stderr")"
sleep 1 # let the VF's state change while the guest runs
status=$(migrate_between srcA dstB "$b")
result "migration A -> B completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
if [ "$status" != completed ]; then
	diag "source monitor:" "$(tail -n 30 "$RUN/srcA.log" | tr -d '\r')" "source stderr:" "$(cat "$RUN/srcA.stderr")"
	diag "destination stderr:" "$(cat "$RUN/dstB.stderr")" "$(dmesg | tail -n 20)"
	bail_out "first migration failed"
fi
v2=$(grep -o 'precopy_info_v2_used [0-9]*' "$RUN/srcA.stderr" | tail -n 1)
case "${VM_QEMU_VERSION:-}" in
10.*) skip "migrated with PRECOPY_INFOv2" "QEMU $VM_QEMU_VERSION predates it" ;;
*) result "QEMU ${VM_QEMU_VERSION:-?} migrated with PRECOPY_INFOv2 (${v2:-no vfio_migration_init trace})" \
	"$([ "$v2" = "precopy_info_v2_used 1" ]; echo $?)" ;;
esac
info=$(hmp srcA "info migrate")
diag "$(printf '%s\n' "$info" | grep -iE 'time|downtime|transferred|vfio' | head -n 12)"
saved=$(mig_field "$a" saved_checksum)
loaded=$(mig_field "$b" loaded_checksum)
result "device state arrived intact (saved $saved, loaded $loaded)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ] && [ "$saved" != 0000000000000000 ]; echo $?)"
dst_status=$(hmp dstB "info status")
check "destination guest runs" sh -c "echo '$dst_status' | grep -q 'VM status: running'"
check "destination VF is RUNNING" test "$(mig_field "$b" state)" = RUNNING
qemu_stop srcA

# 2. B -> A: back again, in the same boot.
status=$(migrate_between dstB dstA "$a")
result "migration B -> A completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
saved=$(mig_field "$b" saved_checksum)
loaded=$(mig_field "$a" loaded_checksum)
result "state intact on the way back (saved $saved, loaded $loaded)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ]; echo $?)"
qemu_stop dstB

# 3. migrate_cancel during precopy: the source keeps running, device usable.
held_precopy dstA dstB "$b" "$a"
check "source VF entered precopy" grep -q "state: PRE_COPY" "/sys/kernel/debug/mlx5vf/$a/migration"
hmp dstA "migrate_cancel" >/dev/null
status=$(migrate_wait dstA 30)
result "migrate_cancel ends the migration (status: $status)" "$([ "$status" = cancelled ]; echo $?)"
check "source guest still runs" guest_runs dstA
check "source VF back in RUNNING" wait_for 10 grep -q "state: RUNNING" "/sys/kernel/debug/mlx5vf/$a/migration"
qemu_stop dstB
hmp dstA "migrate_set_parameter max-bandwidth 128M" >/dev/null
status=$(migrate_between dstA dstB "$b")
result "after the cancel, A -> B completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
result "and carries the state intact" \
	"$([ "$(mig_field "$a" saved_checksum)" = "$(mig_field "$b" loaded_checksum)" ]; echo $?)"
qemu_stop dstA

# 3b. The VF is reconfigured during precopy (its state grows). QEMU 11.1, opted into
# PRECOPY_INFOv2, is told REINIT and moves the new initial data before switching
# over; QEMU 10 moves it as dirty data. Either way the state arrives equal. Then
# back, so that the next step starts from the same place.
hmp dstB "trace-event vfio_query_precopy_size on" >/dev/null
held_precopy dstB rcA "$a" "$b"
check "reconfigure the source VF during precopy" sh -c "echo 16 >/sys/kernel/debug/mlx5vf/$b/reconfigure"
hmp dstB "migrate_set_parameter max-bandwidth 128M" >/dev/null
status=$(migrate_wait dstB 60)
result "a migration across a reconfiguration completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
saved=$(mig_field "$b" saved_checksum)
loaded=$(mig_field "$a" loaded_checksum)
result "the reconfigured state arrived intact (saved $saved, loaded $loaded)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ]; echo $?)"
reinit=$(grep -c 'vfio_query_precopy_size.* reinit 1' "$RUN/dstB.stderr")
case "${VM_QEMU_VERSION:-}" in
10.*) skip "QEMU saw REINIT" "QEMU $VM_QEMU_VERSION predates PRECOPY_INFOv2" ;;
*) result "QEMU ${VM_QEMU_VERSION:-?} saw REINIT ($reinit precopy queries reported it)" \
	"$([ "$reinit" -ge 1 ]; echo $?)" ;;
esac
qemu_stop dstB
status=$(migrate_between rcA dstB "$b")
result "and back (status: $status)" "$([ "$status" = completed ]; echo $?)"
qemu_stop rcA

# 4. An incompatible destination refuses during precopy; the source runs on.
echo 0x1234 >/sys/module/mlx5vf_sim/parameters/sim_identity
rebind "$a"
echo 0x53494d5646 >/sys/module/mlx5vf_sim/parameters/sim_identity
imark=$(dmesg_mark 04-incompatible)
before=$(mig_field "$b" saved_checksum)
status=$(migrate_between dstB inc "$a")
result "migration to an incompatible destination fails (status: $status)" \
	"$([ "$status" = failed ]; echo $?)"
result "it failed before the source VF stopped (no stop-copy happened)" \
	"$([ "$(mig_field "$b" saved_checksum)" = "$before" ]; echo $?)"
check "the destination said why, once" sh -c "dmesg | grep -c 'migration stream refused.*' | grep -qx 1"
diag "$(dmesg_since "$imark" | grep mlx5vf | head -n 3)"
check "source guest still runs" guest_runs dstB
check "source VF back in RUNNING" wait_for 10 grep -q "state: RUNNING" "/sys/kernel/debug/mlx5vf/$b/migration"
qemu_stop inc
rebind "$a"

# 5. A corrupt stream (a short firmware image) is refused by the destination.
cmark=$(dmesg_mark 04-corrupt)
echo "save 2 short-image" >"/sys/kernel/debug/mlx5vf/$b/inject"
status=$(migrate_between dstB bad "$a")
result "a corrupt stream fails the migration (status: $status)" "$([ "$status" = failed ]; echo $?)"
check "the destination refused it with a clean error" \
	sh -c "dmesg | sed -n '/$cmark/,\$p' | grep -q 'migration stream refused'"
diag "$(dmesg_since "$cmark" | grep mlx5vf | head -n 3)"
check "source VF back in RUNNING" wait_for 10 grep -q "state: RUNNING" "/sys/kernel/debug/mlx5vf/$b/migration"
qemu_stop bad
status=$(migrate_between dstB dstA2 "$a")
result "the next migration works again (status: $status)" "$([ "$status" = completed ]; echo $?)"
qemu_stop dstA2
qemu_stop dstB

# 5b. A SAVE that mlx5_core completes by force (its command timeout) while the
# device may still write the buffer: the migration fails with one line, the
# source runs on with its VF, and that buffer is never reused (the simulated
# firmware warns if it is, which the final dmesg check would catch).
tmark=$(dmesg_mark 04-forced-timeout)
qemu_start tsrc "$b" || bail_out "source QEMU did not start"
check "arm a forced timeout of the source's first SAVE" \
	sh -c "echo 'save 1 forced-timeout' >/sys/kernel/debug/mlx5vf/$b/inject"
status=$(migrate_between tsrc tdst "$a")
result "a SAVE completed by force fails the migration (status: $status)" \
	"$([ "$status" = failed ]; echo $?)"
check "the source said so, once" sh -c \
	"dmesg | sed -n '/$tmark/,\$p' | grep -c 'firmware SAVE timed out' | grep -qx 1"
diag "$(dmesg_since "$tmark" | grep mlx5vf | head -n 3)"
check "source guest still runs" guest_runs tsrc
check "source VF back in RUNNING" wait_for 10 grep -q "state: RUNNING" "/sys/kernel/debug/mlx5vf/$b/migration"
qemu_stop tdst
status=$(migrate_between tsrc tdst2 "$a")
result "the next migration from that VF works (status: $status)" "$([ "$status" = completed ]; echo $?)"
qemu_stop tdst2
qemu_stop tsrc

# 6. Another firmware build of the same line (sim_identity: the same high 32 bits,
# other low 32): refused by default; with mlx5vf's accept_fw_build_mismatch set when
# the destination VF binds, it migrates with one warning naming both builds and the
# state arrives intact. The setting is read at bind: it is back to 0 before the
# migration, and the VF bound with it still accepts.
accept=/sys/module/mlx5vf/parameters/accept_fw_build_mismatch
check "accept_fw_build_mismatch is off by default" test "$(cat $accept)" = N
qemu_start bsrc "$b" || bail_out "source QEMU did not start"
sleep 1
echo 0x5300001234 >/sys/module/mlx5vf_sim/parameters/sim_identity
rebind "$a"
fmark=$(dmesg_mark 04-build-refused)
status=$(migrate_between bsrc bdst0 "$a")
result "another firmware build is refused by default (status: $status)" \
	"$([ "$status" = failed ]; echo $?)"
check "the destination named the build as the reason" sh -c \
	"dmesg | sed -n '/$fmark/,\$p' | grep -q 'COMPAT refused: another firmware build (see accept_fw_build_mismatch)'"
diag "$(dmesg_since "$fmark" | grep mlx5vf | head -n 3)"
qemu_stop bdst0
check "source VF back in RUNNING" wait_for 10 grep -q "state: RUNNING" "/sys/kernel/debug/mlx5vf/$b/migration"
echo 1 >$accept
rebind "$a"
echo 0 >$accept
echo 0x53494d5646 >/sys/module/mlx5vf_sim/parameters/sim_identity
amark=$(dmesg_mark 04-build-accepted)
status=$(migrate_between bsrc bdst1 "$a")
result "with accept_fw_build_mismatch=1 at bind, another firmware build migrates (status: $status)" \
	"$([ "$status" = completed ]; echo $?)"
saved=$(mig_field "$b" saved_checksum)
loaded=$(mig_field "$a" loaded_checksum)
result "the state arrived intact (saved $saved, loaded $loaded)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ]; echo $?)"
check "the destination warned once, naming both builds" sh -c \
	"dmesg | sed -n '/$amark/,\$p' | grep -c 'accepting a migration stream from firmware build 18765.22086 on firmware build 0.4660' | grep -qx 1"
diag "$(dmesg_since "$amark" | grep mlx5vf | head -n 3)"
qemu_stop bdst1
qemu_stop bsrc
rebind "$a"

sim_vfs_remove
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the migrations"
done_testing
