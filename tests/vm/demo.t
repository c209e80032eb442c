#!/bin/sh
# `make demo`: one live migration of a guest that owns a simulated VF, with
# real QEMU 10, told as it happens: the device-state arcs QEMU asked of
# mlx5vf, the precopy rounds, the bytes moved before and during stop-copy,
# and the times QEMU reports.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=qemu.sh
. "${TESTS_DIR:-$(dirname "$0")}/qemu.sh"

[ -n "${VM_QEMU:-}" ] && [ -x "$VM_QEMU" ] || skip_all "no QEMU in this initramfs"
vfs=$(sim_vfs 2) || bail_out "could not bind two simulated VFs"
src_vf=$(echo "$vfs" | sed -n 1p)
dst_vf=$(echo "$vfs" | sed -n 2p)
diag "$(dmesg | grep -m1 'mlx5vf-core' | sed 's/^.*mlx5vf: //')"
diag "simulated VFs (igb VFs bound to mlx5vf_sim): source $src_vf, destination $dst_vf"

# mlx5vf's own tracepoints for the migration; printed at the end as "# trace: "
# lines, which scripts/demo turns into a timeline (tools/mlx5vf-timeline).
T=/sys/kernel/tracing
[ -d "$T/events" ] || mount -t tracefs nodev "$T" 2>/dev/null
if [ -d "$T/events/mlx5vf" ]; then
	echo 0 >"$T/tracing_on"
	echo 4096 >"$T/buffer_size_kb"
	echo >"$T/trace"
	echo 1 >"$T/events/mlx5vf/enable"
	echo 1 >"$T/tracing_on"
fi

trace="-trace vfio_migration_set_state -trace vfio_save_block -trace vfio_save_iterate"
trace="$trace -trace vfio_save_complete_precopy_start -trace vfio_load_state_device_data"
# shellcheck disable=SC2086
qemu_start src "$src_vf" $trace -D "$RUN/src.trace" || bail_out "source QEMU did not start"
# shellcheck disable=SC2086
qemu_start dst "$dst_vf" -incoming defer $trace -D "$RUN/dst.trace" || bail_out "destination QEMU did not start"
diag "source and destination QEMU 10 started; the source guest runs, its VF's state changes"
sleep 1
mig_caps src
mig_caps dst
hmp dst "migrate_incoming tcp:127.0.0.1:4444" >/dev/null
hmp src "migrate -d tcp:127.0.0.1:4444" >/dev/null
status=$(migrate_wait src 60)
result "live migration: $status" "$([ "$status" = completed ]; echo $?)"

arcs() { sed -n 's/.*vfio_migration_set_state .* new state \([A-Z_0-9]*\),.*/\1/p' "$1" | tr '\n' ' '; }
diag "source arcs requested by QEMU:      $(arcs "$RUN/src.trace")"
diag "destination arcs requested by QEMU: $(arcs "$RUN/dst.trace")"
rounds=$(grep -c 'vfio_save_iterate ' "$RUN/src.trace")
bytes=$(awk '/vfio_save_complete_precopy_start/ { stop = 1 }
	/vfio_save_block / { n = $NF; if (stop) s += n; else p += n }
	END { printf "%d %d", p, s }' "$RUN/src.trace")
diag "precopy: $rounds iterations, ${bytes% *} bytes of device state before the VM stopped"
diag "stop-copy: ${bytes#* } bytes of device state while the VM was stopped"
info=$(hmp src "info migrate")
diag "QEMU: $(printf '%s\n' "$info" | grep -E '^(total time|downtime|setup|vfio device transferred):' | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
saved=$(mig_field "$src_vf" saved_checksum)
loaded=$(mig_field "$dst_vf" loaded_checksum)
result "device state on the destination equals the source's at switchover ($loaded)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ]; echo $?)"
result "destination VF is $(mig_field "$dst_vf" state), source VF is $(mig_field "$src_vf" state)" \
	"$([ "$(mig_field "$dst_vf" state)" = RUNNING ]; echo $?)"
# The per-device statistics of this migration (debugfs), as "# stats: " lines.
diag "$(sed 's/^/stats: source: /' "/sys/kernel/debug/mlx5vf/$src_vf/statistics")"
diag "$(sed 's/^/stats: destination: /' "/sys/kernel/debug/mlx5vf/$dst_vf/statistics")"
if [ -d "$T/events/mlx5vf" ]; then
	echo 0 >"$T/tracing_on"
	echo 0 >"$T/events/mlx5vf/enable"
	diag "$(grep ' mlx5vf_' "$T/trace" | sed 's/^/trace: /')"
fi
qemu_stop src
qemu_stop dst
sim_vfs_remove
done_testing
