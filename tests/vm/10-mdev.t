#!/bin/sh
# The simulated VF as mdev instances of mlx5vf_sim's parent: the parent and its
# types in sysfs (name, description, device_api, available_instances within a
# capacity), instances created and removed through sysfs, each its own VFIO
# device in its own IOMMU group; real QEMU live-migrates a guest that owns one to
# a guest that owns another (state equal, destination running), refuses an
# incompatible destination before the source stops; an mdev instance and a
# PCI-bound simulated VF live in the same boot; 64 instances created and removed
# (some opened by QEMU) leave the capacity as it was; unloading the module with
# instances present removes them; no kernel splat.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=qemu.sh
. "${TESTS_DIR:-$(dirname "$0")}/qemu.sh"

[ -n "${VM_QEMU:-}" ] && [ -x "$VM_QEMU" ] || skip_all "no QEMU in this initramfs"
mark=$(dmesg_mark 10-mdev)
parent=/sys/class/mlx5vf_sim/mlx5vf_sim
types=$parent/mdev_supported_types

# mdev_create TYPE: a new instance of mlx5vf_sim-TYPE; prints its UUID.
mdev_create() {
	_m_u=$(cat /proc/sys/kernel/random/uuid)
	echo "$_m_u" >"$types/mlx5vf_sim-$1/create" || return 1
	echo "$_m_u"
}
# mdev_remove UUID
mdev_remove() {
	echo 1 >"/sys/bus/mdev/devices/$1/remove"
}
available() {
	cat "$types/mlx5vf_sim-$1/available_instances"
}

check "load mlx5vf and mlx5vf_sim" load_sim
check "the mdev parent exists" test -d "$types"
for t in small large whole; do
	d=$types/mlx5vf_sim-$t
	check "type $t: name '$(cat "$d/name" 2>/dev/null)'" test -s "$d/name"
	check "type $t: description '$(cat "$d/description" 2>/dev/null)'" \
		grep -q "simulated ConnectX VF" "$d/description"
	check "type $t: device_api vfio-pci" test "$(cat "$d/device_api" 2>/dev/null)" = vfio-pci
	check "type $t: 64 instances available" test "$(available "$t")" = 64
done

# 1. Instances: each a VFIO device with its own group, counted against the capacity.
a=$(mdev_create small) || bail_out "cannot create an instance"
b=$(mdev_create small) || bail_out "cannot create a second instance"
ok "two instances: $a, $b"
check "available_instances counts them (62)" test "$(available small)" = 62
check "every type shares the capacity (large: 62)" test "$(available large)" = 62
ga=$(basename "$(readlink "/sys/bus/mdev/devices/$a/iommu_group")")
gb=$(basename "$(readlink "/sys/bus/mdev/devices/$b/iommu_group")")
check "instance $a has /dev/vfio/$ga" test -c "/dev/vfio/$ga"
check "the instances have distinct groups ($ga, $gb)" test "$ga" != "$gb"
check "debugfs shows $a in RUNNING" test "$(mig_field "$a" state)" = RUNNING
check "debugfs has the simulator's view of $a" test -n "$(mig_field "$a" sim_checksum)"
check "instances of one type start in different states" \
	test "$(mig_field "$a" sim_checksum)" != "$(mig_field "$b" sim_checksum)"

# 2. Real QEMU migrates a guest that owns one to a guest that owns the other.
port=4540
migrate_to() { # SRC_NAME DST_NAME DST_DEV
	port=$((port + 1))
	qemu_start "$2" "$3" -incoming defer || return 1
	mig_caps "$1"
	mig_caps "$2"
	hmp "$2" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp "$1" "migrate -d tcp:127.0.0.1:$port" >/dev/null
	migrate_wait "$1" 60
}
qemu_start srcA "$a" || bail_out "QEMU did not start with mdev $a: $(cat "$RUN/srcA.stderr")"
ok "QEMU realizes vfio-pci on the mdev instance"
sleep 1
status=$(migrate_to srcA dstB "$b")
result "migration of the guest owning $a to the guest owning $b completes (status: $status)" \
	"$([ "$status" = completed ]; echo $?)"
[ "$status" = completed ] || diag "source stderr:" "$(cat "$RUN/srcA.stderr")" \
	"destination stderr:" "$(cat "$RUN/dstB.stderr")" "$(dmesg | tail -n 20)"
diag "$(hmp srcA "info migrate" | grep -iE 'downtime|vfio' | head -n 4)"
saved=$(mig_field "$a" saved_checksum)
loaded=$(mig_field "$b" loaded_checksum)
result "device state arrived intact (saved $saved, loaded $loaded)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ] && [ "$saved" != 0000000000000000 ]; echo $?)"
st=$(hmp dstB "info status")
check "destination guest runs ($st)" sh -c "echo '$st' | grep -q 'VM status: running'"
check "destination instance is RUNNING" test "$(mig_field "$b" state)" = RUNNING
qemu_stop srcA

# 3. An incompatible destination (another firmware identity) is refused before the
# source stops: the source guest keeps running with its device.
echo 0x1234 >/sys/module/mlx5vf_sim/parameters/sim_identity
c=$(mdev_create small) || bail_out "cannot create the incompatible instance"
echo 0x53494d5646 >/sys/module/mlx5vf_sim/parameters/sim_identity
status=$(migrate_to dstB dstC "$c")
result "migration to an incompatible instance fails (status: $status)" \
	"$([ "$status" = failed ]; echo $?)"
st=$(hmp dstB "info status")
check "the source guest still runs ($st)" sh -c "echo '$st' | grep -q 'VM status: running'"
check "the source instance is back in RUNNING" wait_for 10 \
	sh -c "[ \"\$(cat /sys/kernel/debug/mlx5vf/$b/migration | sed -n 's/^state: //p')\" = RUNNING ]"
check "the destination refused the stream's COMPAT record" \
	sh -c "dmesg | grep '$c' | grep -q 'COMPAT refused'"
qemu_stop dstC
qemu_stop dstB
check "remove the incompatible instance" mdev_remove "$c"

# 4. An mdev instance and a PCI-bound simulated VF in the same boot.
vf=$(sim_vfs 1) || bail_out "could not bind a PCI simulated VF"
check "PCI simulated VF $vf beside the instances" test "$(mig_field "$vf" state)" = RUNNING
# The migrated-away instance is usable again: opening it resets it to RUNNING.
if qemu_start again "$a" -S; then
	check "instance $a opened again is RUNNING" test "$(mig_field "$a" state)" = RUNNING
	qemu_stop again
else
	not_ok "QEMU opens instance $a again"
fi

# 5. The capacity is a setting: at 2, no more instances.
echo 2 >/sys/module/mlx5vf_sim/parameters/mdev_capacity
check "at capacity 2 with 2 instances, 0 available" test "$(available whole)" = 0
check "creating one more fails" \
	sh -c "! cat /proc/sys/kernel/random/uuid >$types/mlx5vf_sim-whole/create 2>/dev/null"
echo 64 >/sys/module/mlx5vf_sim/parameters/mdev_capacity
check "remove $a and $b" sh -c "echo 1 >/sys/bus/mdev/devices/$a/remove && echo 1 >/sys/bus/mdev/devices/$b/remove"
check "all 64 available again" test "$(available small)" = 64

# 6. 64 instances created and removed; every 16th opened by QEMU (realize, quit).
made=0 opened=0 i=0
while [ $i -lt 64 ]; do
	u=$(mdev_create whole) || break
	made=$((made + 1))
	if [ $((i % 16)) -eq 0 ] && qemu_start loop "$u" -S; then
		qemu_stop loop
		opened=$((opened + 1))
	fi
	mdev_remove "$u" || break
	i=$((i + 1))
done
result "64 instances created and removed ($made made, $opened opened by QEMU)" \
	"$([ $made -eq 64 ] && [ $opened -eq 4 ]; echo $?)"
check "the capacity is whole again (64)" test "$(available whole)" = 64

# 7. Unloading with instances present removes them.
d=$(mdev_create large) || bail_out "cannot create an instance before unloading"
sim_vfs_remove
check "unloading removed instance $d" test ! -e "/sys/bus/mdev/devices/$d"
check "the parent is gone" test ! -e "$parent"
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the test"
done_testing
