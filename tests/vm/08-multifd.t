#!/bin/sh
# Multifd device-state transfer: real QEMU 10 moves the VFs' STOP_COPY data
# over its multifd channels instead of the main migration stream.
#
# One guest owns two simulated VFs (A, B) and migrates to a guest that owns two
# others (C, D), with the `multifd` capability on both sides and each vfio-pci
# device set to x-migration-multifd-transfer=on (QEMU fails the migration
# rather than fall back). QEMU 10.0 also needs the migration object's
# send-switchover-start, on by default. On the source a thread per device sets
# STOP_COPY itself and reads its data_fd to EOF, both devices at once, without
# the BQL: any read error, ENOMSG or EAGAIN included, fails the migration. On
# the destination a thread per device writes the buffers into the resuming fd.
#
# The evidence that multifd carried the device state is QEMU's own trace
# (-trace: the save threads on the source, the load threads on the
# destination, each named by its VF). The VFs are in PRE_COPY before the
# switchover (QEMU's default for a device that offers precopy), so the STOP_COPY
# stream the threads read follows a precopy. Each device's state must arrive
# intact on its own counterpart (A's on C, B's on D; A's and B's differ, so a
# mix-up shows), and the destination's guest memory must equal the source's.
# Then back, C+D -> A+B, over four channels.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=qemu.sh
. "${TESTS_DIR:-$(dirname "$0")}/qemu.sh"

[ -n "${VM_QEMU:-}" ] && [ -x "$VM_QEMU" ] || skip_all "no QEMU in this initramfs"
mark=$(dmesg_mark 08-multifd)
vfs=$(sim_vfs 4) || bail_out "could not bind four simulated VFs"
a=$(echo "$vfs" | sed -n 1p)
b=$(echo "$vfs" | sed -n 2p)
c=$(echo "$vfs" | sed -n 3p)
d=$(echo "$vfs" | sed -n 4p)
ok "four simulated VFs: $a, $b (source guest), $c, $d (destination guest)"
slow=${VMTEST_SLOW:-1}
port=4480

# The QEMU trace events that show who carried the device state.
traces=""
for ev in vfio_save_complete_precopy_thread_start vfio_save_complete_precopy_thread_end \
	vfio_load_bufs_thread_start vfio_load_bufs_thread_end vfio_load_state_device_buffer_incoming \
	vfio_migration_set_state; do
	traces="$traces -trace $ev"
done

# mf_start NAME BDF0 BDF1 [ARG...]: a guest with two VFs, multifd transfer forced on.
mf_start() {
	_m_name=$1 _m_b0=$2 _m_b1=$3
	shift 3
	_m_opt=enable-migration=on,x-device-dirty-page-tracking=off,x-no-mmap=on
	_m_opt=$_m_opt,x-migration-multifd-transfer=on
	# shellcheck disable=SC2086 # $traces is a list of arguments
	qemu_start_dev "$_m_name" "vfio-pci,host=$_m_b0,id=vf0,addr=0x5,$_m_opt" \
		-device "vfio-pci,host=$_m_b1,id=vf1,addr=0x6,$_m_opt" $traces "$@"
}

# mf_caps NAME CHANNELS: the usual capabilities plus multifd.
mf_caps() {
	mig_caps "$1"
	hmp "$1" "migrate_set_capability multifd on" >/dev/null
	hmp "$1" "migrate_set_parameter multifd-channels $2" >/dev/null
}

# mf_migrate SRC DST CHANNELS: DST (already started -incoming defer) receives SRC.
mf_migrate() {
	port=$((port + 1))
	mf_caps "$1" "$3"
	mf_caps "$2" "$3"
	hmp "$2" "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
	hmp "$1" "migrate -d tcp:127.0.0.1:$port" >/dev/null
	migrate_wait "$1" $((60 * slow))
}

# trace_lines NAME EVENT BDF: the trace lines of EVENT that name BDF.
trace_lines() {
	grep -F "$2" "$RUN/$1.stderr" | grep -F "$3"
}

# check_multifd SRC DST SRC_BDF DST_BDF: the device's state went through the
# source's save thread and the destination's load thread.
check_multifd() {
	_s=$(trace_lines "$1" vfio_save_complete_precopy_thread_end "$3")
	result "$3: a save thread read its STOP_COPY data to EOF and queued it on multifd" \
		"$([ -n "$(trace_lines "$1" vfio_save_complete_precopy_thread_start "$3")" ] &&
			[ -n "$_s" ]; echo $?)"
	diag "$(trace_lines "$1" vfio_save_complete_precopy_thread_ "$3" | sed 's/^[0-9]*@[0-9.]*://')"
	_n=$(trace_lines "$2" vfio_load_state_device_buffer_incoming "$4" | wc -l)
	result "$4: a load thread wrote the $_n multifd buffers into the resuming fd" \
		"$([ "$_n" -gt 0 ] && [ -n "$(trace_lines "$2" vfio_load_bufs_thread_end "$4")" ]; echo $?)"
	diag "$(trace_lines "$2" vfio_load_bufs_thread_ "$4" | sed 's/^[0-9]*@[0-9.]*://')"
}

# fail_diag SRC DST: what the two QEMUs said.
fail_diag() {
	diag "source monitor:" "$(tail -n 20 "$RUN/$1.log" | tr -d '\r')" \
		"source stderr:" "$(grep -v '^[0-9]*@' "$RUN/$1.stderr" | tail -n 20)" \
		"destination stderr:" "$(grep -v '^[0-9]*@' "$RUN/$2.stderr" | tail -n 20)" \
		"$(dmesg | tail -n 20)"
}

# 1. A+B -> C+D over two multifd channels; the destination stays paused (-S)
# until its memory was compared.
mf_start srcAB "$a" "$b" || bail_out "source QEMU did not start: $(cat "$RUN/srcAB.stderr")"
mf_start dstCD "$c" "$d" -incoming defer -S ||
	bail_out "destination QEMU did not start: $(cat "$RUN/dstCD.stderr")"
t0=$(cut -d' ' -f1 /proc/uptime)
status=$(mf_migrate srcAB dstCD 2)
t1=$(cut -d' ' -f1 /proc/uptime)
result "migration A+B -> C+D over 2 multifd channels completes (status: $status)" \
	"$([ "$status" = completed ]; echo $?)"
if [ "$status" != completed ]; then
	fail_diag srcAB dstCD
	bail_out "the multifd migration failed"
fi
diag "$(hmp srcAB "info migrate" | grep -iE 'total time|downtime|transferred|multifd' | head -n 8)"
diag "migrate to completed: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"
check_multifd srcAB dstCD "$a" "$c"
check_multifd srcAB dstCD "$b" "$d"
diag "$a: $(trace_lines srcAB vfio_migration_set_state "($a)" | sed -n 's/.*new state \([A-Z_0-9]*\).*/\1/p' |
	tr '\n' ' ')"
for vf in "$a" "$b"; do
	result "$vf was in PRE_COPY before the switchover, then STOP_COPY" \
		"$(trace_lines srcAB vfio_migration_set_state "($vf)" | grep -q 'new state PRE_COPY' &&
			trace_lines srcAB vfio_migration_set_state "($vf)" | grep -q 'new state STOP_COPY'
			echo $?)"
done
src_sum=$(mem_sum srcAB /tmp/mf-src.mem)
dst_sum=$(mem_sum dstCD /tmp/mf-dst.mem)
result "destination guest memory equals the source's ($src_sum, $dst_sum)" \
	"$([ -n "$src_sum" ] && [ "$src_sum" = "$dst_sum" ]; echo $?)"
rm -f /tmp/mf-src.mem /tmp/mf-dst.mem
hmp dstCD "cont" >/dev/null
check "destination guest runs" guest_runs dstCD
for vf in "$c" "$d"; do
	check "destination VF $vf is RUNNING" test "$(mig_field "$vf" state)" = RUNNING
done
sa=$(mig_field "$a" saved_checksum)
sb=$(mig_field "$b" saved_checksum)
result "A and B hold different state ($sa, $sb): a mix-up would show" \
	"$([ -n "$sa" ] && [ "$sa" != "$sb" ]; echo $?)"
result "A's state arrived intact on C (saved $sa, loaded $(mig_field "$c" loaded_checksum))" \
	"$([ "$sa" != 0000000000000000 ] && [ "$sa" = "$(mig_field "$c" loaded_checksum)" ]; echo $?)"
result "B's state arrived intact on D (saved $sb, loaded $(mig_field "$d" loaded_checksum))" \
	"$([ "$sb" != 0000000000000000 ] && [ "$sb" = "$(mig_field "$d" loaded_checksum)" ]; echo $?)"
qemu_stop srcAB

# 2. Back, C+D -> A+B, over four channels, the destination running at once.
mf_start dstAB "$a" "$b" -incoming defer ||
	bail_out "destination QEMU did not start: $(cat "$RUN/dstAB.stderr")"
status=$(mf_migrate dstCD dstAB 4)
result "migration C+D -> A+B over 4 multifd channels completes (status: $status)" \
	"$([ "$status" = completed ]; echo $?)"
[ "$status" = completed ] || fail_diag dstCD dstAB
check_multifd dstCD dstAB "$c" "$a"
check_multifd dstCD dstAB "$d" "$b"
for from in "$c" "$d"; do
	to=$a
	[ "$from" = "$c" ] || to=$b
	s=$(mig_field "$from" saved_checksum)
	l=$(mig_field "$to" loaded_checksum)
	result "$from's state arrived intact on $to (saved $s, loaded $l)" \
		"$([ "$s" != 0000000000000000 ] && [ "$s" = "$l" ]; echo $?)"
done
qemu_stop dstCD
qemu_stop dstAB

sim_vfs_remove
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the multifd migrations"
done_testing
