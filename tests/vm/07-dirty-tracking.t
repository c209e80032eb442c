#!/bin/sh
# Device dirty tracking (VFIO DMA logging).
#
# Stock Debian 6.12 has no CONFIG_IOMMUFD_DRIVER: the driver must not offer DMA
# logging there, and must say so in one line (04-migrate.t shows it still migrates).
#
# Where the kernel has it (the debug kernel): QEMU's default, device dirty tracking
# on, live-migrates a guest whose simulated VF writes guest memory through the VFIO
# DMA path all through precopy. The destination's guest memory must equal the
# source's, byte for byte, and so must the device state. The negative control: a
# tracker that drops its reports (fault "lose-dirty") makes the memories differ,
# so the comparison can see a lost page.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=qemu.sh
. "${TESTS_DIR:-$(dirname "$0")}/qemu.sh"

[ -n "${VM_QEMU:-}" ] && [ -x "$VM_QEMU" ] || skip_all "no QEMU in this initramfs"
mark=$(dmesg_mark 07-dirty)
vfs=$(sim_vfs 2) || bail_out "could not bind two simulated VFs"
a=$(echo "$vfs" | sed -n 1p)
b=$(echo "$vfs" | sed -n 2p)
dbg_a=/sys/kernel/debug/mlx5vf/$a
slow=${VMTEST_SLOW:-1}

# qemu_start_tracked NAME BDF [ARG...]: like qemu_start, device dirty tracking left at
# QEMU's default (on where the device offers it), nothing else but enable-migration=on.
qemu_start_tracked() {
	_t_name=$1 _t_bdf=$2
	shift 2
	qemu_start_dev "$_t_name" "vfio-pci,host=$_t_bdf,id=vf0,addr=0x5,enable-migration=on,x-no-mmap=on" "$@"
}

if dmesg_since "$mark" | grep -q "$a.*device dirty tracking off: kernel without CONFIG_IOMMUFD_DRIVER"; then
	ok "no IOMMUFD_DRIVER: the VF says device dirty tracking is off and what QEMU needs"
	diag "$(dmesg_since "$mark" | grep "$a.*dirty tracking" | head -n 1)"
	result "it offers no DMA logging" "$([ "$(mig_field "$a" dirty_tracking)" = unavailable ]; echo $?)"
	result "one line per VF" "$(dmesg_since "$mark" | grep -c "$a.*dirty tracking" | grep -qx 1; echo $?)"
	# Following that line is enough: QEMU tracks through the type1 container.
	qemu_start_tracked srcA "$a" || bail_out "source QEMU did not start: $(cat "$RUN/srcA.stderr")"
	qemu_start_tracked dstB "$b" -incoming defer || bail_out "destination QEMU did not start"
	mig_caps srcA
	mig_caps dstB
	hmp dstB "migrate_incoming tcp:127.0.0.1:4469" >/dev/null
	hmp srcA "migrate -d tcp:127.0.0.1:4469" >/dev/null
	status=$(migrate_wait srcA $((60 * slow)))
	result "with just enable-migration=on, QEMU migrates (status: $status)" \
		"$([ "$status" = completed ]; echo $?)"
	[ "$status" = completed ] || diag "$(cat "$RUN/srcA.stderr")" "$(tail -n 10 "$RUN/srcA.log")"
	qemu_stop srcA
	qemu_stop dstB
	sim_vfs_remove
	check_dmesg_clean "$mark" "no kernel splat"
	done_testing
fi

check "the VF offers device dirty tracking" test "$(mig_field "$a" dirty_tracking)" = idle
diag "$(dmesg_since "$mark" | grep "$a.*migratable" | head -n 1)"

# The simulated function writes 1 KiB bursts into guest RAM [4 MiB, 8 MiB), which
# the guest firmware (SeaBIOS, no boot device) leaves alone.
win_lo=4194304 win_len=4194304
port=4470

# migrate_tracked SRC DST DST_BDF: migrate with device dirty tracking; the
# destination stays paused (-S) so that neither guest nor VF touch its memory after.
migrate_tracked() {
	port=$((port + 1))
	qemu_start_tracked "$2" "$3" -incoming defer -S || return 1
	mig_caps "$1"
	mig_caps "$2"
	# Long enough that the function writes while pages are in flight.
	hmp "$1" "migrate_set_parameter max-bandwidth 4M" >/dev/null
	hmp "$2" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp "$1" "migrate -d tcp:127.0.0.1:$port" >/dev/null
	migrate_wait "$1" $((120 * slow))
}

# mem_sum NAME FILE: md5 of the guest's RAM window, saved by QEMU.
mem_sum() {
	rm -f "$2"
	_m_out=$(hmp "$1" "pmemsave $win_lo $win_len \"$2\"")
	if wait_for 10 test -s "$2"; then
		md5sum "$2" | cut -d' ' -f1
	else
		echo "# pmemsave on $1: $_m_out" >&2
	fi
}

# start_throttled_migration: srcA (VF a) starts migrating to a paused dstB (VF b) at
# 64 KiB/s, so that it stays in precopy, with tracking on, until the test acts.
start_throttled_migration() {
	qemu_start_tracked srcA "$a" || bail_out "source QEMU did not start"
	qemu_start_tracked dstB "$b" -incoming defer -S
	mig_caps srcA
	mig_caps dstB
	hmp srcA "migrate_set_parameter max-bandwidth 64k" >/dev/null
	port=$((port + 1))
	hmp dstB "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp srcA "migrate -d tcp:127.0.0.1:$port" >/dev/null
}

# 1. Tracked migration with DMA into guest memory: nothing lost.
qemu_start_tracked srcA "$a" || bail_out "source QEMU did not start: $(cat "$RUN/srcA.stderr")"
echo "$win_lo $win_len" >"$dbg_a/dma_window"
check "the VF writes guest memory while running" wait_for $((10 * slow)) \
	sh -c "[ \$(sed -n 's/^dma_writes: //p' $dbg_a/sim) -gt 100 ]"
# A write VFIO refuses (-EINVAL: the IOVA was unmapped while the guest firmware
# reshuffled its memory map) is what an IOMMU fault is to a real VF: not logged.
errs=$(mig_field "$a" dma_errors)
result "through VFIO's DMA path (errors: $errs)" \
	"$([ $((errs * 10)) -lt "$(mig_field "$a" dma_writes)" ]; echo $?)"
writes_before=$(mig_field "$a" dma_writes)
status=$(migrate_tracked srcA dstB "$b")
result "tracked migration A -> B completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
if [ "$status" != completed ]; then
	diag "source:" "$(tail -n 20 "$RUN/srcA.log" | tr -d '\r')" "$(cat "$RUN/srcA.stderr")"
	diag "destination:" "$(cat "$RUN/dstB.stderr")" "$(dmesg | tail -n 20)"
	bail_out "tracked migration failed"
fi
diag "$(cat "$dbg_a/migration" "$dbg_a/sim" | grep -E '^(dirty|dma)_')"
writes=$(($(mig_field "$a" dma_writes) - writes_before))
result "the VF wrote guest memory during the migration ($writes writes)" "$([ "$writes" -gt 50 ]; echo $?)"
result "QEMU used the device's tracker ($(mig_field "$a" dirty_reports) reports)" \
	"$([ "$(mig_field "$a" dirty_reports)" -gt 1 ]; echo $?)"
result "every write landed inside the tracked ranges" \
	"$([ "$(mig_field "$a" dma_untracked_writes)" = 0 ]; echo $?)"
result "the tracker reported pages ($(mig_field "$a" dirty_pages_reported))" \
	"$([ "$(mig_field "$a" dirty_pages_reported)" -gt 0 ]; echo $?)"
# Over-report: 4 KiB pages reported per page the function actually dirtied.
marked=$(mig_field "$a" dma_pages_marked)
diag "over-report: $(mig_field "$a" dirty_pages_reported) pages reported for $marked dirtied"
result "nothing reported that the function did not write" \
	"$([ "$(mig_field "$a" dirty_pages_reported)" = "$marked" ]; echo $?)"
result "no tracker error" "$([ "$(mig_field "$a" dirty_error)" = none ]; echo $?)"
src_sum=$(mem_sum srcA /tmp/src.mem)
dst_sum=$(mem_sum dstB /tmp/dst.mem)
result "destination guest memory equals the source's ($src_sum, $dst_sum)" \
	"$([ -n "$src_sum" ] && [ "$src_sum" = "$dst_sum" ]; echo $?)"
result "and the window holds the VF's data, not zeroes" \
	"$([ "$(tr -d '\000' </tmp/src.mem | wc -c)" -gt 0 ]; echo $?)"
# The paused destination keeps its VF in RESUMING until the guest starts.
hmp dstB "cont" >/dev/null
check "destination VF runs once the guest starts" wait_for $((10 * slow)) \
	sh -c "grep -q 'state: RUNNING' /sys/kernel/debug/mlx5vf/$b/migration"
saved=$(mig_field "$a" saved_checksum)
loaded=$(mig_field "$b" loaded_checksum)
result "device state arrived intact (saved $saved, loaded $loaded)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ]; echo $?)"
# QEMU keeps logging while the source is paused after the migration (it could
# still resume); closing the device ends it.
qemu_stop srcA
check "tracking ends when the source QEMU closes the VF" wait_for $((10 * slow)) \
	sh -c "grep -q 'dirty_tracking: idle' $dbg_a/migration"
qemu_stop dstB

# 2. Negative control: a tracker that loses its reports is caught by the comparison.
qemu_start_tracked srcA "$a" || bail_out "source QEMU did not start"
wait_for $((10 * slow)) sh -c "[ \$(sed -n 's/^dma_writes: //p' $dbg_a/sim) -gt 100 ]"
echo "track-report 1 lose-dirty" >"$dbg_a/inject"
status=$(migrate_tracked srcA dstB "$b")
result "migration with a data-losing tracker still completes (status: $status)" \
	"$([ "$status" = completed ]; echo $?)"
src_sum=$(mem_sum srcA /tmp/src.mem)
dst_sum=$(mem_sum dstB /tmp/dst.mem)
result "and the destination's memory differs: a lost page is visible ($src_sum, $dst_sum)" \
	"$([ -n "$src_sum" ] && [ -n "$dst_sum" ] && [ "$src_sum" != "$dst_sum" ]; echo $?)"
qemu_stop srcA
qemu_stop dstB
rm -f /tmp/src.mem /tmp/dst.mem

# 3. A cancelled tracked migration: the source runs on, QEMU stops logging, and the
# next tracked migration is clean again.
start_throttled_migration
wait_for $((20 * slow)) sh -c "grep -q 'dirty_tracking: active' $dbg_a/migration"
hmp srcA "migrate_cancel" >/dev/null
status=$(migrate_wait srcA $((30 * slow)))
result "migrate_cancel during tracked precopy (status: $status)" "$([ "$status" = cancelled ]; echo $?)"
check "the source guest runs on" guest_runs srcA
check "QEMU stopped the tracker" wait_for $((10 * slow)) \
	sh -c "grep -q 'dirty_tracking: idle' $dbg_a/migration"
check "the source VF is RUNNING" wait_for $((10 * slow)) grep -q "state: RUNNING" "$dbg_a/migration"
qemu_stop dstB
status=$(migrate_tracked srcA dstB "$b")
result "the next tracked migration completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
src_sum=$(mem_sum srcA /tmp/src.mem)
dst_sum=$(mem_sum dstB /tmp/dst.mem)
result "and its guest memory arrives equal ($src_sum, $dst_sum)" \
	"$([ -n "$src_sum" ] && [ "$src_sum" = "$dst_sum" ]; echo $?)"
qemu_stop srcA
qemu_stop dstB
rm -f /tmp/src.mem /tmp/dst.mem

# 4. Closing the device ends tracking that userspace left running (QEMU killed).
start_throttled_migration
check "tracking is active during precopy" wait_for $((20 * slow)) \
	sh -c "grep -q 'dirty_tracking: active' $dbg_a/migration"
kill -9 "$(cat "$RUN/srcA.pid")"
check "killing QEMU stops the tracker" wait_for $((10 * slow)) \
	sh -c "grep -q 'dirty_tracking: idle' $dbg_a/migration"
kill "$(cat "$RUN/srcA.holder")" 2>/dev/null
rm -f "$RUN/srcA.pid"
qemu_stop dstB
echo "0 0" >"$dbg_a/dma_window"

sim_vfs_remove
check_dmesg_clean "$mark" "no WARNING/BUG/lockdep/KASAN during tracked migrations"
done_testing
