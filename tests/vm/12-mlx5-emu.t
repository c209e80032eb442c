#!/bin/sh
# Real QEMU live-migrates guests through the mlx5 backend. Two igb VFs are bound
# to the test-only mlx5vf_mlx5_emu_vf.ko, whose firmware is its own copy of the
# mlx5 backend (src/shim/mlx5_fw.c, built with MLX5VF_MLX5_EMU) over an emulated
# ConnectX PF per function (kunit/mlx5vf_emu.c): every migration command is a
# mailbox decoded against mlx5_ifc.h, every buffer DMA-mapped pages described by
# an mkey. While the source runs, its VHCA writes its state and guest RAM
# [4 MiB, 8 MiB) through VFIO's DMA path.
#
# Precopy with whole images, then with chunked images (emu_chunk_mode); where the
# kernel carries DMA logging (the debug kernel) also with device dirty tracking,
# the emulated firmware tracker reporting the guest pages the function wrote,
# and its negative control: a tracker that loses them makes the memories differ.
# Each time: the migration completes; the destination VHCA's state equals the
# source's (it differed before); the destination's guest memory equals the
# source's; the destination runs; the emulator saw no misuse (a mailbox no driver
# may send, a page touched while the CPU owns it); and no kernel splat.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=qemu.sh
. "${TESTS_DIR:-$(dirname "$0")}/qemu.sh"

[ -n "${VM_QEMU:-}" ] && [ -x "$VM_QEMU" ] || skip_all "no QEMU in this initramfs"
[ -n "${MLX5VF_MLX5_EMU_VF_KO:-}" ] ||
	skip_all "no mlx5vf_mlx5_emu_vf.ko in this image (built by make module MLX5VF_TEST_MODULES=1 where mlx5vf.ko carries the mlx5 backend; 6.1 has none)"
mark=$(dmesg_mark 12-mlx5-emu)
# Unloaded at the end only if this test loaded it.
had_mlx5vf=0
[ ! -d /sys/module/mlx5vf ] || had_mlx5vf=1
slow=${VMTEST_SLOW:-1}
port=4480
win_lo=4194304 win_len=4194304
drv=mlx5vf_mlx5_emu_vf

# emu_field BDF FIELD: a line of the function's debugfs "emu" (the emulated PF's view).
emu_field() {
	sed -n "s/^$2: //p" "/sys/kernel/debug/mlx5vf/$1/emu" 2>/dev/null
}

# emu_vfs PARAMS...: mlx5vf.ko, then the emulated-PF module with PARAMS, and two igb
# VFs bound to it: sets pf, a and b.
emu_vfs() {
	modprobe igb || return 1
	for _e_d in $(modinfo -F depends "${MLX5VF_KO:?}" "$MLX5VF_MLX5_EMU_VF_KO" | tr ',' ' '); do
		[ "$_e_d" = mlx5vf ] || modprobe "$_e_d" || return 1
	done
	[ -d /sys/module/mlx5vf ] || insmod "$MLX5VF_KO" || return 1
	insmod "$MLX5VF_MLX5_EMU_VF_KO" "$@" || return 1
	pf=$(pci_find 0x8086 0x10c9 | head -n 1)
	[ -n "$pf" ] || return 1
	echo 2 >"$pf/sriov_numvfs" || return 1
	for _e_i in 0 1; do
		_e_vf=$(readlink -f "$pf/virtfn$_e_i")
		[ ! -e "$_e_vf/driver" ] || echo "${_e_vf##*/}" >"$_e_vf/driver/unbind"
		echo "$drv" >"$_e_vf/driver_override"
		echo "${_e_vf##*/}" >/sys/bus/pci/drivers_probe
		bound_to "$_e_vf" "$drv" || return 1
	done
	a=$(basename "$(readlink -f "$pf/virtfn0")")
	b=$(basename "$(readlink -f "$pf/virtfn1")")
}

# emu_vfs_remove: unbind and destroy the VFs, unload the emulated-PF module.
emu_vfs_remove() {
	igb_vfs_remove
	rmmod "$drv"
}

# qemu_start_tracked NAME BDF [ARG...]: device dirty tracking left at QEMU's default.
qemu_start_tracked() {
	_t_name=$1 _t_bdf=$2
	shift 2
	qemu_start_dev "$_t_name" "vfio-pci,host=$_t_bdf,id=vf0,addr=0x5,enable-migration=on,x-no-mmap=on" "$@"
}

# wait_dirty_syncs NAME N: wait until the migration of QEMU NAME has synced its
# dirty log N times; fails once the migration has ended short of that.
wait_dirty_syncs() {
	while :; do
		_w_info=$(hmp "$1" "info migrate")
		_w_n=$(printf '%s\n' "$_w_info" | sed -n 's/^[Dd]irty sync count:[[:space:]]*//p' | head -n 1)
		[ "${_w_n:-0}" -lt "$2" ] || return 0
		case "$(printf '%s\n' "$_w_info" | migration_status)" in
		completed | failed | cancelled) return 1 ;;
		esac
		sleep 0.5
	done
}

# window_written FILE: the guest RAM window of a pmemsave holds data, not zeroes.
window_written() {
	[ "$(dd if="$1" bs=4096 skip=$((win_lo / 4096)) count=$((win_len / 4096)) 2>/dev/null |
		tr -d '\000' | wc -c)" -gt 0 ]
}

# emu_migration LABEL START CHUNKED: srcA (VF a) live-migrates to a paused dstB (VF
# b), both started by START (qemu_start, or qemu_start_tracked), its VF writing
# guest memory all along; CHUNKED (1/0): whether images must come in chunks.
emu_migration() {
	_m_label=$1 _m_start=$2 _m_chunked=$3
	dbg_a=/sys/kernel/debug/mlx5vf/$a
	# Counted since the module loaded: after an earlier migration the
	# destination holds the source's state until this run writes its own.
	_m_writes=$(emu_field "$a" emu_dma_writes)
	rm -f "$RUN/srcA.trace"
	# shellcheck disable=SC2046 # ack_trace's options, split on purpose
	"$_m_start" srcA "$a" $(ack_trace srcA) || bail_out "$_m_label: source QEMU did not start: $(cat "$RUN/srcA.stderr")"
	echo "$win_lo $win_len" >"$dbg_a/dma_window"
	check "$_m_label: the source VF writes guest memory and its state" wait_for $((10 * slow)) \
		sh -c "[ \$(sed -n 's/^emu_dma_writes: //p' $dbg_a/emu) -gt $((${_m_writes:-0} + 100)) ]"
	sum_a=$(emu_field "$a" emu_checksum)
	sum_b=$(emu_field "$b" emu_checksum)
	result "$_m_label: the two VHCAs' states differ before ($sum_a, $sum_b)" \
		"$([ -n "$sum_a" ] && [ "$sum_a" != "$sum_b" ]; echo $?)"
	check "$_m_label: the source VHCA's state keeps changing while it runs" wait_for $((10 * slow)) \
		sh -c "[ \"\$(sed -n 's/^emu_checksum: //p' $dbg_a/emu)\" != '$sum_a' ]"
	saves_before=$(emu_field "$a" emu_saves)
	port=$((port + 1))
	"$_m_start" dstB "$b" -incoming defer -S || bail_out "$_m_label: destination QEMU did not start"
	mig_caps srcA
	mig_caps dstB
	# Slow enough that the function writes while pages are in flight.
	hmp srcA "migrate_set_parameter max-bandwidth 4M" >/dev/null
	hmp srcA "migrate_set_parameter downtime-limit 1" >/dev/null
	hmp dstB "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp srcA "migrate -d tcp:127.0.0.1:$port" >/dev/null
	check "$_m_label: the device's initial image reached the destination in precopy (switchover acked)" \
		wait_switchover_acked srcA $((120 * slow))
	diag "$_m_label: device data sent by the ack: $(hmp srcA "info migrate" | grep -io 'vfio[= ][^,]*')"
	hmp srcA "migrate_set_parameter downtime-limit 20000" >/dev/null
	status=$(migrate_wait srcA $((120 * slow)))
	result "$_m_label: migration A -> B completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
	if [ "$status" != completed ]; then
		diag "source:" "$(tail -n 20 "$RUN/srcA.log" | tr -d '\r')" "$(cat "$RUN/srcA.stderr")"
		diag "destination:" "$(cat "$RUN/dstB.stderr")" "$(cat "$dbg_a/emu")" "$(dmesg | tail -n 20)"
		bail_out "$_m_label: migration failed"
	fi
	diag "source: $(grep -E '^emu_(saves|continuation_saves|queries|dma_writes|dirty_pages_reported)' "$dbg_a/emu" | tr '\n' ' ')"
	saves=$(($(emu_field "$a" emu_saves) - saves_before))
	result "$_m_label: the source saved more than once (precopy) ($saves SAVEs)" "$([ "$saves" -gt 1 ]; echo $?)"
	cont=$(emu_field "$a" emu_continuation_saves)
	if [ "$_m_chunked" = 1 ]; then
		result "$_m_label: images came in chunks ($cont continuation SAVEs)" "$([ "$cont" -gt 0 ]; echo $?)"
	else
		result "$_m_label: images came whole (no continuation SAVE)" "$([ "$cont" = 0 ]; echo $?)"
	fi
	result "$_m_label: the destination loaded images ($(emu_field "$b" emu_loads))" \
		"$([ "$(emu_field "$b" emu_loads)" -gt 0 ]; echo $?)"
	# Both VHCAs are stopped now: the source after its final SAVE, the destination until cont.
	sum_a=$(emu_field "$a" emu_checksum)
	sum_b=$(emu_field "$b" emu_checksum)
	result "$_m_label: device state arrived: the destination VHCA's equals the source's ($sum_a, $sum_b)" \
		"$([ -n "$sum_a" ] && [ "$sum_a" = "$sum_b" ]; echo $?)"
	src_sum=$(mem_sum srcA /tmp/src.mem)
	dst_sum=$(mem_sum dstB /tmp/dst.mem)
	result "$_m_label: destination guest memory equals the source's ($src_sum, $dst_sum)" \
		"$([ -n "$src_sum" ] && [ "$src_sum" = "$dst_sum" ]; echo $?)"
	result "$_m_label: and the VF's window holds its data, not zeroes" "$(window_written /tmp/src.mem; echo $?)"
	rm -f /tmp/src.mem /tmp/dst.mem
	hmp dstB "cont" >/dev/null
	check "$_m_label: destination guest runs" wait_for $((10 * slow)) guest_runs dstB
	check "$_m_label: destination VF is RUNNING" wait_for $((10 * slow)) \
		sh -c "grep -q 'state: RUNNING' /sys/kernel/debug/mlx5vf/$b/migration"
	check "$_m_label: destination VHCA runs" wait_for $((10 * slow)) \
		sh -c "grep -q 'emu_running: 1' /sys/kernel/debug/mlx5vf/$b/emu"
	result "$_m_label: the emulated PFs saw no misuse ($(emu_field "$a" emu_misuses), $(emu_field "$b" emu_misuses))" \
		"$([ "$(emu_field "$a" emu_misuses)" = 0 ] && [ "$(emu_field "$b" emu_misuses)" = 0 ]; echo $?)"
	result "$_m_label: and failed no command ($(emu_field "$a" emu_out_err_calls), $(emu_field "$b" emu_out_err_calls))" \
		"$([ "$(emu_field "$a" emu_out_err_calls)" = 0 ] && [ "$(emu_field "$b" emu_out_err_calls)" = 0 ]; echo $?)"
	qemu_stop srcA
	qemu_stop dstB
	echo "0 0" >"$dbg_a/dma_window"
}

# 1. Precopy, whole images.
emu_vfs emu_chunk_mode=0 || bail_out "could not bind two VFs to $drv"
ok "two igb VFs on emulated ConnectX PFs: $a, $b"
result "$drv.ko needs no mlx5_core: every backend call goes to the emulator ($(modinfo -F depends "$MLX5VF_MLX5_EMU_VF_KO"))" \
	"$(! modinfo -F depends "$MLX5VF_MLX5_EMU_VF_KO" | tr ',' '\n' | grep -qx mlx5_core; echo $?)"
line=$(dmesg_since "$mark" | grep "$a.*migratable VF: vhca_id" | head -n 1)
diag "$line"
result "the mlx5 backend probed the emulated firmware" "$([ -n "$line" ]; echo $?)"
emu_migration precopy qemu_start 0
emu_vfs_remove

# 2. Precopy, chunked images.
emu_vfs emu_chunk_mode=1 || bail_out "could not bind two VFs to $drv (chunked)"
result "the backend saw chunked saves offered" \
	"$(dmesg_since "$mark" | grep -q "$a.*migratable VF: vhca_id.*chunked saves"; echo $?)"
emu_migration chunked qemu_start 1

# 3. Device dirty tracking (the debug kernel; stock 6.12 has no IOMMUFD_DRIVER).
if [ "$(mig_field "$a" dirty_tracking)" = idle ]; then
	emu_migration tracked qemu_start_tracked 1
	result "tracked: QEMU used the device's tracker ($(mig_field "$a" dirty_reports) reports)" \
		"$([ "$(mig_field "$a" dirty_reports)" -gt 1 ]; echo $?)"
	result "tracked: the emulated tracker reported the pages the VF wrote ($(emu_field "$a" emu_dirty_pages_reported))" \
		"$([ "$(emu_field "$a" emu_dirty_pages_reported)" -gt 0 ]; echo $?)"
	result "tracked: no tracker error" "$([ "$(mig_field "$a" dirty_error)" = none ]; echo $?)"
	# Negative control: a tracker that loses its pages is caught by the
	# comparison. Precopy is held (a 1 ms downtime limit never converges
	# while the VHCA's state changes) until a RAM pass after the first has
	# run: the window's pages left in the first pass, and what the function
	# wrote over them since is lost. Then the switchover is let happen.
	echo 1 >"/sys/module/$drv/parameters/emu_lose_dirty"
	_l_writes=$(emu_field "$a" emu_dma_writes)
	rm -f "$RUN/srcA.trace"
	# shellcheck disable=SC2046 # ack_trace's options, split on purpose
	qemu_start_tracked srcA "$a" $(ack_trace srcA) || bail_out "lossy: source QEMU did not start"
	echo "$win_lo $win_len" >"/sys/kernel/debug/mlx5vf/$a/dma_window"
	wait_for $((10 * slow)) sh -c \
		"[ \$(sed -n 's/^emu_dma_writes: //p' /sys/kernel/debug/mlx5vf/$a/emu) -gt $((${_l_writes:-0} + 100)) ]"
	qemu_start_tracked dstB "$b" -incoming defer -S || bail_out "lossy: destination QEMU did not start"
	mig_caps srcA
	mig_caps dstB
	hmp srcA "migrate_set_parameter max-bandwidth 4M" >/dev/null
	hmp srcA "migrate_set_parameter downtime-limit 1" >/dev/null
	port=$((port + 1))
	hmp dstB "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp srcA "migrate -d tcp:127.0.0.1:$port" >/dev/null
	check "lossy tracker: precopy ran a RAM pass after the first" wait_dirty_syncs srcA 3
	check "lossy tracker: the device's initial image arrived (switchover acked)" \
		wait_switchover_acked srcA $((120 * slow))
	diag "$_m_label: device data sent by the ack: $(hmp srcA "info migrate" | grep -io 'vfio[= ][^,]*')"
	hmp srcA "migrate_set_parameter downtime-limit 20000" >/dev/null
	status=$(migrate_wait srcA $((120 * slow)))
	result "lossy tracker: migration still completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
	src_sum=$(mem_sum srcA /tmp/src.mem)
	dst_sum=$(mem_sum dstB /tmp/dst.mem)
	result "lossy tracker: the destination's memory differs: a lost page is visible ($(emu_field "$a" emu_dirty_pages_lost) lost)" \
		"$([ -n "$src_sum" ] && [ -n "$dst_sum" ] && [ "$src_sum" != "$dst_sum" ]; echo $?)"
	rm -f /tmp/src.mem /tmp/dst.mem
	qemu_stop srcA
	qemu_stop dstB
	echo 0 >"/sys/module/$drv/parameters/emu_lose_dirty"
	echo "0 0" >"/sys/kernel/debug/mlx5vf/$a/dma_window"
else
	skip "tracked migration" "no device dirty tracking here ($(mig_field "$a" dirty_tracking))"
fi
emu_vfs_remove
[ "$had_mlx5vf" = 1 ] || rmmod mlx5vf
check_dmesg_clean "$mark" "no WARNING/BUG/lockdep/KASAN"
done_testing
