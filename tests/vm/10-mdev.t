#!/bin/sh
# The simulated VF as mdev instances of mlx5vf_sim's parent: the parent and its
# types in sysfs (name, description, device_api, available_instances within a
# capacity), instances created and removed through sysfs and through mdevctl,
# each its own VFIO device in its own IOMMU group. Real QEMU live-migrates a
# guest that owns one to a guest that owns another while the device writes guest
# memory (device state and guest memory equal, destination running); a cancelled
# migration, an incompatible destination and a corrupt stream leave the source
# running with its device; four guests migrate at once; one guest with two
# instances migrates with multifd device-state transfer; the tracked type's
# instances migrate with device dirty tracking where the kernel has it (and say
# why not elsewhere); a data_fd held past its instance's removal touches nothing
# freed (KASAN on the debug kernel); an mdev instance and a
# PCI-bound simulated VF live in the same boot; 64 instances created and removed
# (some opened by QEMU) leave the capacity as it was; removing an instance a guest
# owns waits for the guest to let it go; unloading the module with instances
# present removes them; no kernel splat.
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
for t in small large whole tracked; do
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
migrate_to() { # SRC_NAME DST_NAME DST_DEV [DST_ARG...]
	_t_src=$1 _t_dst=$2 _t_dev=$3
	shift 3
	port=$((port + 1))
	qemu_start "$_t_dst" "$_t_dev" -incoming defer "$@" || return 1
	set -- "$_t_src" "$_t_dst"
	mig_caps "$1"
	mig_caps "$2"
	hmp "$2" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp "$1" "migrate -d tcp:127.0.0.1:$port" >/dev/null
	migrate_wait "$1" 60
}
qemu_start srcA "$a" || bail_out "QEMU did not start with mdev $a: $(cat "$RUN/srcA.stderr")"
ok "QEMU realizes vfio-pci on the mdev instance"
# The instance writes guest memory (4 MiB at 4 MiB) through vfio_dma_rw while it
# runs: only the container's dirty log can bring those pages to the destination.
echo "4194304 4194304" >"/sys/kernel/debug/mlx5vf/$a/dma_window"
check "the instance writes guest memory" wait_for 20 \
	sh -c "[ \$(sed -n 's/^dma_writes: //p' /sys/kernel/debug/mlx5vf/$a/sim) -gt 100 ]"
writes0=$(mig_field "$a" dma_writes)
status=$(migrate_to srcA dstB "$b" -S)
result "migration of the guest owning $a to the guest owning $b completes (status: $status)" \
	"$([ "$status" = completed ]; echo $?)"
[ "$status" = completed ] || diag "source stderr:" "$(cat "$RUN/srcA.stderr")" \
	"destination stderr:" "$(cat "$RUN/dstB.stderr")" "$(dmesg | tail -n 20)"
diag "$(hmp srcA "info migrate" | grep -iE 'downtime|vfio' | head -n 4)"
result "the instance wrote guest memory during the migration ($(($(mig_field "$a" dma_writes) - writes0)) writes, $(mig_field "$a" dma_errors) refused)" \
	"$([ $(($(mig_field "$a" dma_writes) - writes0)) -gt 20 ]; echo $?)"
saved=$(mig_field "$a" saved_checksum)
loaded=$(mig_field "$b" loaded_checksum)
result "device state arrived intact (saved $saved, loaded $loaded)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ] && [ "$saved" != 0000000000000000 ]; echo $?)"
src_sum=$(mem_sum srcA /tmp/mdev-src.mem)
dst_sum=$(mem_sum dstB /tmp/mdev-dst.mem)
result "destination guest memory equals the source's ($src_sum, $dst_sum)" \
	"$([ -n "$src_sum" ] && [ "$src_sum" = "$dst_sum" ]; echo $?)"
if [ "$src_sum" != "$dst_sum" ]; then
	# The function's writes carry their sequence number and IOVA: the first
	# differing bytes say whether the destination missed a write or the
	# source was written after its last dirty sync.
	first=$(cmp /tmp/mdev-src.mem /tmp/mdev-dst.mem | sed -n 's/.* byte \([0-9]*\),.*/\1/p')
	from=$(((${first:-1} - 1) / 16 * 16))
	diag "pages that differ (4 KiB numbers, count):" \
		"$(cmp -l /tmp/mdev-src.mem /tmp/mdev-dst.mem | awk '{ print int(($1 - 1) / 4096) }' | uniq -c | head -n 20)" \
		"first difference at byte $first; source, then destination, from $from:" \
		"$(od -A d -t x8 -j "$from" -N 32 /tmp/mdev-src.mem)" \
		"$(od -A d -t x8 -j "$from" -N 32 /tmp/mdev-dst.mem)" \
		"$(cat "/sys/kernel/debug/mlx5vf/$a/sim")" \
		"$(hmp srcA "info migrate" | tr -d '\r')"
fi
rm -f /tmp/mdev-src.mem /tmp/mdev-dst.mem
echo "0 0" >"/sys/kernel/debug/mlx5vf/$a/dma_window"
hmp dstB "cont" >/dev/null
st=$(hmp dstB "info status")
check "destination guest runs ($st)" sh -c "echo '$st' | grep -q 'VM status: running'"
check "destination instance is RUNNING" test "$(mig_field "$b" state)" = RUNNING
qemu_stop srcA

# A cancelled migration (held in precopy at 64 KiB/s) leaves the source running.
port=$((port + 1))
qemu_start dstA "$a" -incoming defer || bail_out "QEMU did not start with $a"
mig_caps dstB
mig_caps dstA
hmp dstB "migrate_set_parameter max-bandwidth 64k" >/dev/null
hmp dstA "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp dstB "migrate -d tcp:127.0.0.1:$port" >/dev/null
check "the source instance entered precopy" wait_precopy dstB "$b"
hmp dstB "migrate_cancel" >/dev/null
status=$(migrate_wait dstB 60)
result "the migration was cancelled (status: $status)" "$([ "$status" = cancelled ]; echo $?)"
check "the source instance is back in RUNNING" wait_for 10 \
	sh -c "grep -q 'state: RUNNING' /sys/kernel/debug/mlx5vf/$b/migration"
qemu_stop dstA
hmp dstB "migrate_set_parameter max-bandwidth 1g" >/dev/null

# A corrupt stream (the source's second SAVE comes back short) is refused; the
# source keeps running.
echo "save 2 short-image" >"/sys/kernel/debug/mlx5vf/$b/inject"
status=$(migrate_to dstB dstA "$a")
result "a migration with a corrupt image fails (status: $status)" "$([ "$status" = failed ]; echo $?)"
st=$(hmp dstB "info status")
check "the source guest still runs ($st)" sh -c "echo '$st' | grep -q 'VM status: running'"
check "the source instance is back in RUNNING" wait_for 10 \
	sh -c "grep -q 'state: RUNNING' /sys/kernel/debug/mlx5vf/$b/migration"
qemu_stop dstA

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

# The tracked type's firmware has a dirty-page tracker: where the kernel can carry
# device dirty reports (6.1, the debug kernel) the instance offers VFIO DMA logging
# and QEMU, left at its default, uses it instead of the container's dirty log;
# elsewhere the instance says why not. The other types never offer it.
ta=$(mdev_create tracked) && tb=$(mdev_create tracked) || bail_out "cannot create tracked instances"
check "a small instance offers no DMA logging" test "$(mig_field "$a" dirty_tracking)" = unavailable
tline=$(dmesg_since "$mark" | grep "$ta" | grep "type tracked" | head -n 1)
diag "$tline"
if echo "$tline" | grep -q "type tracked (device dirty tracking)"; then
	check "the tracked instance offers DMA logging" test "$(mig_field "$ta" dirty_tracking)" = idle
	check "a small instance's line says its firmware has no tracker" \
		sh -c "dmesg | grep '$a' | grep -q 'type small (device dirty tracking off: the firmware has no page tracker)'"
	topt=enable-migration=on,x-no-mmap=on
	qemu_start_dev trs "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$ta,id=vf0,addr=0x5,$topt" ||
		bail_out "QEMU did not start with $ta: $(cat "$RUN/trs.stderr")"
	echo "4194304 4194304" >"/sys/kernel/debug/mlx5vf/$ta/dma_window"
	check "the tracked instance writes guest memory" wait_for 20 \
		sh -c "[ \$(sed -n 's/^dma_writes: //p' /sys/kernel/debug/mlx5vf/$ta/sim) -gt 100 ]"
	port=$((port + 1))
	qemu_start_dev trd "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$tb,id=vf0,addr=0x5,$topt" \
		-incoming defer -S || bail_out "QEMU did not start with $tb"
	mig_caps trs
	mig_caps trd
	# Slow enough that the instance writes while pages are in flight.
	hmp trs "migrate_set_parameter max-bandwidth 4M" >/dev/null
	hmp trd "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp trs "migrate -d tcp:127.0.0.1:$port" >/dev/null
	status=$(migrate_wait trs 120)
	result "tracked migration completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
	diag "$(grep -hE '^(dirty|dma)_' "/sys/kernel/debug/mlx5vf/$ta/migration" "/sys/kernel/debug/mlx5vf/$ta/sim")"
	result "QEMU used the instance's tracker ($(mig_field "$ta" dirty_reports) reports)" \
		"$([ "$(mig_field "$ta" dirty_reports)" -gt 1 ]; echo $?)"
	result "the tracker reported pages ($(mig_field "$ta" dirty_pages_reported))" \
		"$([ "$(mig_field "$ta" dirty_pages_reported)" -gt 0 ]; echo $?)"
	result "every write landed inside the tracked ranges, no tracker error" \
		"$([ "$(mig_field "$ta" dma_untracked_writes)" = 0 ] && [ "$(mig_field "$ta" dirty_error)" = none ]; echo $?)"
	sv=$(mig_field "$ta" saved_checksum)
	ld=$(mig_field "$tb" loaded_checksum)
	result "tracked: device state intact ($sv, $ld)" "$([ -n "$sv" ] && [ "$sv" = "$ld" ]; echo $?)"
	src_sum=$(mem_sum trs /tmp/mdev-src.mem)
	dst_sum=$(mem_sum trd /tmp/mdev-dst.mem)
	result "tracked: destination guest memory equals the source's ($src_sum, $dst_sum)" \
		"$([ -n "$src_sum" ] && [ "$src_sum" = "$dst_sum" ]; echo $?)"
	rm -f /tmp/mdev-src.mem /tmp/mdev-dst.mem
	qemu_stop trs
	qemu_stop trd
else
	result "no device dirty reports in this kernel: the tracked instance says so" \
		"$(echo "$tline" | grep -q 'device dirty tracking off: kernel without CONFIG_IOMMUFD_DRIVER'; echo $?)"
	check "and offers no DMA logging" test "$(mig_field "$ta" dirty_tracking)" = unavailable
fi
check "remove the tracked instances" \
	sh -c "echo 1 >/sys/bus/mdev/devices/$ta/remove && echo 1 >/sys/bus/mdev/devices/$tb/remove"

# A data_fd outlives its instance: the client holds a RESUMING data_fd, closes
# the device, removes the instance, then writes to and closes the data_fd. The
# instance counts against the capacity until that last reference goes.
if command -v mlx5vf-mig >/dev/null 2>&1; then
	o=$(mdev_create small) || bail_out "cannot create the instance to orphan"
	before=$(available small)
	run_client "orphan: a data_fd outlives its instance" --src "$o" orphan
	check "the instance is gone" test ! -e "/sys/bus/mdev/devices/$o"
	check "its capacity came back with the last reference ($before -> $(available small))" \
		test "$(available small)" = $((before + 1))
else
	skip "orphaned data_fd" "no mlx5vf-mig in this initramfs"
fi

# Four guests, each with its own instance, migrate at once to four others.
qs="" i=0
while [ $i -lt 4 ]; do
	s_u=$(mdev_create small) && d_u=$(mdev_create small) || bail_out "cannot create instances for pair $i"
	qs="$qs $s_u:$d_u"
	qemu_start "ps$i" "$s_u" && qemu_start "pd$i" "$d_u" -incoming defer ||
		bail_out "QEMU pair $i did not start"
	mig_caps "ps$i"
	mig_caps "pd$i"
	hmp "pd$i" "migrate_incoming tcp:127.0.0.1:$((4600 + i))" >/dev/null
	i=$((i + 1))
done
i=0
while [ $i -lt 4 ]; do
	hmp "ps$i" "migrate -d tcp:127.0.0.1:$((4600 + i))" >/dev/null
	i=$((i + 1))
done
i=0
for pair in $qs; do
	s_u=${pair%:*} d_u=${pair#*:}
	status=$(migrate_wait "ps$i" 90)
	result "pair $i of 4 concurrent migrations completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
	sv=$(mig_field "$s_u" saved_checksum)
	ld=$(mig_field "$d_u" loaded_checksum)
	result "pair $i: state intact ($sv, $ld)" "$([ -n "$sv" ] && [ "$sv" = "$ld" ]; echo $?)"
	qemu_stop "ps$i"
	qemu_stop "pd$i"
	mdev_remove "$s_u"
	mdev_remove "$d_u"
	i=$((i + 1))
done

# One guest with two instances migrates with multifd device-state transfer (the
# save and load threads are QEMU's, named by the instance).
m1=$(mdev_create small) && m2=$(mdev_create whole) && m3=$(mdev_create small) &&
	m4=$(mdev_create whole) || bail_out "cannot create the multifd instances"
mopt=enable-migration=on,x-device-dirty-page-tracking=off,x-migration-multifd-transfer=on
mtr="-trace vfio_save_complete_precopy_thread_end -trace vfio_load_bufs_thread_end"
# shellcheck disable=SC2086 # $mtr is a list of arguments
qemu_start_dev mfs "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$m1,id=vf0,addr=0x5,$mopt" \
	-device "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$m2,id=vf1,addr=0x6,$mopt" $mtr &&
	qemu_start_dev mfd "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$m3,id=vf0,addr=0x5,$mopt" \
		-device "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$m4,id=vf1,addr=0x6,$mopt" $mtr \
		-incoming defer || bail_out "the multifd guests did not start: $(cat "$RUN/mfs.stderr")"
for q in mfs mfd; do
	mig_caps "$q"
	hmp "$q" "migrate_set_capability multifd on" >/dev/null
	hmp "$q" "migrate_set_parameter multifd-channels 2" >/dev/null
done
hmp mfd "migrate_incoming tcp:127.0.0.1:4650" >/dev/null
hmp mfs "migrate -d tcp:127.0.0.1:4650" >/dev/null
status=$(migrate_wait mfs 90)
result "two instances in one guest migrate over multifd (status: $status)" \
	"$([ "$status" = completed ]; echo $?)"
[ "$status" = completed ] || diag "$(grep -v '^[0-9]*@' "$RUN/mfs.stderr" | tail -n 10)" \
	"$(grep -v '^[0-9]*@' "$RUN/mfd.stderr" | tail -n 10)"
for pair in "$m1:$m3" "$m2:$m4"; do
	s_u=${pair%:*} d_u=${pair#*:}
	result "$s_u: a save thread carried its STOP_COPY data, a load thread wrote it on $d_u" \
		"$(grep -q "vfio_save_complete_precopy_thread_end.*$s_u" "$RUN/mfs.stderr" &&
			grep -q "vfio_load_bufs_thread_end.*$d_u" "$RUN/mfd.stderr"; echo $?)"
	sv=$(mig_field "$s_u" saved_checksum)
	ld=$(mig_field "$d_u" loaded_checksum)
	result "$s_u's state arrived on $d_u ($sv, $ld)" "$([ -n "$sv" ] && [ "$sv" = "$ld" ]; echo $?)"
done
qemu_stop mfs
qemu_stop mfd
for u in "$m1" "$m2" "$m3" "$m4"; do mdev_remove "$u"; done

# mdevctl (Debian's): the types with their descriptions; instances defined
# persistently and started, then migrated like any other.
if command -v mdevctl >/dev/null 2>&1; then
	mkdir -p /etc/mdevctl.d/scripts.d/callouts /etc/mdevctl.d/scripts.d/notifiers
	types_out=$(mdevctl types 2>&1)
	result "mdevctl types lists the four types with their descriptions" \
		"$(for t in small large whole tracked; do echo "$types_out" | grep -q "mlx5vf_sim-$t" || exit 1; done
			echo "$types_out" | grep -q 'simulated ConnectX VF'; echo $?)"
	u1=$(cat /proc/sys/kernel/random/uuid) u2=$(cat /proc/sys/kernel/random/uuid)
	check "mdevctl define $u1" mdevctl define -u "$u1" -p mlx5vf_sim -t mlx5vf_sim-small
	check "mdevctl define $u2" mdevctl define -u "$u2" -p mlx5vf_sim -t mlx5vf_sim-small
	check "mdevctl lists them defined" sh -c "mdevctl list -d | grep -q $u1 && mdevctl list -d | grep -q $u2"
	check "mdevctl start $u1" mdevctl start -u "$u1"
	check "mdevctl start $u2" mdevctl start -u "$u2"
	check "the started instances exist" test -d "/sys/bus/mdev/devices/$u1" -a -d "/sys/bus/mdev/devices/$u2"
	qemu_start mc1 "$u1" || bail_out "QEMU did not start with mdevctl's $u1"
	status=$(migrate_to mc1 mc2 "$u2")
	result "migration between mdevctl-started instances completes (status: $status)" \
		"$([ "$status" = completed ]; echo $?)"
	result "state intact ($(mig_field "$u1" saved_checksum), $(mig_field "$u2" loaded_checksum))" \
		"$([ "$(mig_field "$u1" saved_checksum)" = "$(mig_field "$u2" loaded_checksum)" ]; echo $?)"
	qemu_stop mc1
	qemu_stop mc2
	check "mdevctl stop both" sh -c "mdevctl stop -u $u1 && mdevctl stop -u $u2"
	check "mdevctl undefine both" sh -c "mdevctl undefine -u $u1 && mdevctl undefine -u $u2"
	check "they are gone" test ! -e "/sys/bus/mdev/devices/$u1"
else
	skip "mdevctl" "no mdevctl in this initramfs"
fi

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

# Removing an instance that a guest still owns waits until the guest lets it go.
r=$(mdev_create small) || bail_out "cannot create the instance to remove while open"
qemu_start hold "$r" -S || bail_out "QEMU did not start with $r"
rm -f /tmp/mdev-remove.done
(echo 1 >"/sys/bus/mdev/devices/$r/remove"; echo $? >/tmp/mdev-remove.done) &
sleep 3
check "removing an instance QEMU holds waits for it" test ! -e /tmp/mdev-remove.done
st=$(hmp hold "info status")
check "QEMU still answers meanwhile ($st)" sh -c "echo '$st' | grep -q 'VM status'"
qemu_stop hold
check "the remove completes once QEMU let go" wait_for 30 test -s /tmp/mdev-remove.done
check "the instance is gone" test ! -e "/sys/bus/mdev/devices/$r"

# 7. Unloading with instances present removes them.
d=$(mdev_create large) || bail_out "cannot create an instance before unloading"
sim_vfs_remove
check "unloading removed instance $d" test ! -e "/sys/bus/mdev/devices/$d"
check "the parent is gone" test ! -e "$parent"
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the test"
done_testing
