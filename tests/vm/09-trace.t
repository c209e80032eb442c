#!/bin/sh
# shellcheck disable=SC2154 # uapi_vfs (lib.sh) sets pf, vf0, vf1, bdf0 and bdf1
# The operator's view: tracepoints and debugfs statistics. Two igb VFs bound
# to mlx5vf_sim, every mlx5vf event enabled in tracefs, one live precopy
# migration by mlx5vf-mig's "stats" suite (which itself checks debugfs
# "statistics" against the bytes, records and chunks it moved, and prints
# them on a "# stats:" line). Then the trace must show the source's arcs in
# order without error, one SAVE per FW_DATA record with the record's size,
# one LOAD per record on the destination, every record written and read,
# the PRECOPY_INFO answers; and the statistics must agree with the trace.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

ko=${MLX5VF_KO:-/lib/mlx5vf/mlx5vf.ko}
client=$(command -v mlx5vf-mig) || skip_all "mlx5vf-mig not in the initramfs (mkinitramfs --tools build/tools)"
[ -f "$ko" ] || bail_out "$ko is not in the initramfs"

mark=$(dmesg_mark 09-trace)
uapi_vfs

# tracefs: Debian's kernels have CONFIG_TRACING; mount it where it belongs.
T=/sys/kernel/tracing
[ -d "$T/events" ] || mount -t tracefs nodev "$T" 2>/dev/null
[ -d "$T/events" ] || skip_all "no tracefs (kernel without CONFIG_TRACING?)"

check "bind $bdf0 and $bdf1 to mlx5vf_sim" bind_vfs
bound_to "$vf1" mlx5vf_sim || bail_out "cannot bind the VFs"
n_events() { set -- "$T"/events/mlx5vf/mlx5vf_*; [ -e "$1" ] && echo $# || echo 0; }
result "tracefs has events/mlx5vf: $(n_events) events (want 7)" "$([ "$(n_events)" -eq 7 ]; echo $?)"

trace_setup() {
	echo 0 >"$T/tracing_on" &&
		echo 4096 >"$T/buffer_size_kb" &&
		echo >"$T/trace" &&
		echo 1 >"$T/events/mlx5vf/enable" &&
		echo 1 >"$T/tracing_on"
}
check "enable events/mlx5vf, clear the buffer" trace_setup

out=/tmp/09-client.out
"$client" --stall $((60 * ${VMTEST_SLOW:-1})) --src "$bdf0" --dst "$bdf1" stats >"$out" 2>&1
rc=$?
echo 0 >"$T/events/mlx5vf/enable"
echo 0 >"$T/tracing_on"
trace=/tmp/09-trace.txt
grep ' mlx5vf_' "$T/trace" >"$trace"
# The client's own checks, one line each here.
while IFS= read -r l; do
	case "$l" in
	"ok "*) ok "$(printf '%s\n' "$l" | sed -E 's/^ok [0-9]+( - )?//')" ;;
	"not ok "*) not_ok "$(printf '%s\n' "$l" | sed -E 's/^not ok [0-9]+( - )?//')" ;;
	"#"*) echo "$l" ;;
	esac
done <"$out"
result "mlx5vf-mig stats: exit $rc" "$rc"

# The client's account of the migration.
line=$(grep '^# stats: ' "$out")
[ -n "$line" ] || bail_out "no '# stats:' line from mlx5vf-mig"
field() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
src=$(field src)
dst=$(field dst)
pre=$(field precopy_read)
stop=$(field stop_copy_read)
written=$(field written)
records=$(field records)
fw_data=$(field fw_data)
fw_bytes=$(field fw_data_bytes)

# ev NAME: the event's fields after its name, for every event of that name.
ev() { sed -n "s/.* $1: //p" "$trace"; }
# val KEY: the KEY=value of each input line.
val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
sum() { awk '{ s += $1 } END { print s + 0 }'; }

n=$(wc -l <"$trace")
result "the trace holds $n mlx5vf events" "$([ "$n" -gt 0 ]; echo $?)"
for e in arc fw_cmd record precopy_info reset; do
	c=$(ev "mlx5vf_$e" | wc -l)
	result "mlx5vf_$e events: $c" "$([ "$c" -gt 0 ]; echo $?)"
done

# Arcs: the source walks the precopy path, one arc per event, all succeeding.
src_arcs=$(ev mlx5vf_arc | grep "^$src " | awk '{ printf "%s %s %s,", $2, $3, $4 }')
want="RUNNING -> PRE_COPY,PRE_COPY -> PRE_COPY_P2P,PRE_COPY_P2P -> STOP_COPY,STOP_COPY -> STOP,"
case "$src_arcs" in
*"$want"*) ok "source arcs in order: $want" ;;
*) not_ok "source arcs in order: $want"; diag "got: $src_arcs" ;;
esac
dst_arcs=$(ev mlx5vf_arc | grep "^$dst " | awk '{ printf "%s %s %s,", $2, $3, $4 }')
case "$dst_arcs" in
*"STOP -> RESUMING,RESUMING -> STOP,"*) ok "destination arcs: ... STOP -> RESUMING, RESUMING -> STOP" ;;
*) not_ok "destination arcs: ... STOP -> RESUMING, RESUMING -> STOP"; diag "got: $dst_arcs" ;;
esac
bad=$(ev mlx5vf_arc | grep -vc ' err=0$')
result "every arc succeeded (err=0), $bad did not" "$bad"
sc_ns=$(ev mlx5vf_arc | grep "^$src PRE_COPY_P2P -> STOP_COPY " | val duration_ns | head -n 1)
result "the arc to STOP_COPY took ${sc_ns:-?} ns" "$([ "${sc_ns:-0}" -gt 0 ]; echo $?)"

# Firmware commands: one SAVE with data per FW_DATA record, same bytes; the
# destination LOADs exactly those.
# (A cleanup SAVE, op_mod=2, carries nothing to the stream.)
saves=$(ev mlx5vf_fw_cmd | grep "^$src SAVE " | grep ' err=0 ' | grep -v ' bytes=0 ' | grep -v ' op_mod=2 ')
n_saves=$(printf '%s\n' "$saves" | grep -c .)
save_bytes=$(printf '%s\n' "$saves" | val bytes | sum)
result "source SAVEs with data: $n_saves for $fw_data FW_DATA records, $save_bytes bytes for $fw_bytes" \
	"$([ "$n_saves" = "$fw_data" ] && [ "$save_bytes" = "$fw_bytes" ]; echo $?)"
loads=$(ev mlx5vf_fw_cmd | grep "^$dst LOAD " | grep ' err=0 ')
n_loads=$(printf '%s\n' "$loads" | grep -c .)
load_bytes=$(printf '%s\n' "$loads" | val bytes | sum)
result "destination LOADs: $n_loads of $load_bytes bytes (want $fw_data, $fw_bytes)" \
	"$([ "$n_loads" = "$fw_data" ] && [ "$load_bytes" = "$fw_bytes" ]; echo $?)"
n_susp=$(ev mlx5vf_fw_cmd | grep -c "^$src SUSPEND .* err=0 ")
result "source SUSPENDs: $n_susp (initiator at PRE_COPY_P2P, responder at STOP_COPY)" \
	"$([ "$n_susp" -ge 2 ]; echo $?)"

# Records: the same records written by the source and read by the destination.
w=$(ev mlx5vf_record | grep "^$src written ")
r=$(ev mlx5vf_record | grep "^$dst read ")
nw=$(printf '%s\n' "$w" | grep -c .)
nr=$(printf '%s\n' "$r" | grep -c .)
result "records: $nw written, $nr read, $records in the stream" \
	"$([ "$nw" = "$records" ] && [ "$nr" = "$records" ]; echo $?)"
wb=$(printf '%s\n' "$w" | grep ' FW_DATA ' | val length | sum)
rb=$(printf '%s\n' "$r" | grep ' FW_DATA ' | val length | sum)
result "FW_DATA record lengths: $wb written, $rb read, $fw_bytes in the stream" \
	"$([ "$wb" = "$fw_bytes" ] && [ "$rb" = "$fw_bytes" ]; echo $?)"
# Every byte of the stream is a header or a payload of a traced record.
all=$(printf '%s\n' "$w" | val length | sum)
result "record lengths + 16-byte headers = $((all + 16 * nw)) bytes, the client read $written" \
	"$([ $((all + 16 * nw)) = "$written" ]; echo $?)"

# PRECOPY_INFO: the client asked four times (rounds 0..3), never failing.
pi=$(ev mlx5vf_precopy_info | grep "^$src " | grep -c ' err=0$')
result "PRECOPY_INFO answers on the source: $pi (want 4)" "$([ "$pi" -eq 4 ]; echo $?)"

# debugfs statistics against the trace and the client.
# last BDF FIELD: the field's "last" column in debugfs statistics.
last() { awk -v f="$2" '$1 == f { print $2 }' "/sys/kernel/debug/mlx5vf/$1/statistics"; }
s_stop=$(last "$src" stop_copy_bytes)
s_pre=$(last "$src" precopy_bytes)
d_res=$(last "$dst" resume_bytes)
result "debugfs: stop_copy_bytes $s_stop == bytes the client read after STOP_COPY ($stop)" \
	"$([ "$s_stop" = "$stop" ]; echo $?)"
result "debugfs: precopy_bytes $s_pre == bytes the client read in precopy ($pre)" \
	"$([ "$s_pre" = "$pre" ]; echo $?)"
result "debugfs: resume_bytes $d_res == bytes the client wrote ($written)" \
	"$([ "$d_res" = "$written" ]; echo $?)"
s_chunks=$(last "$src" save_chunks)
d_chunks=$(last "$dst" load_chunks)
result "debugfs: save_chunks $s_chunks, load_chunks $d_chunks == SAVE/LOAD events ($n_saves, $n_loads)" \
	"$([ "$s_chunks" = "$n_saves" ] && [ "$d_chunks" = "$n_loads" ]; echo $?)"
rounds=$(last "$src" precopy_rounds)
inc=$(ev mlx5vf_fw_cmd | grep "^$src SAVE op_mod=1 " | grep -c ' err=0 ')
# Incremental SAVEs: one per round, plus the final image's (a delta, chunked).
result "debugfs: precopy_rounds $rounds <= incremental SAVE events ($inc)" \
	"$([ "$rounds" -ge 1 ] && [ "$rounds" -le "$inc" ]; echo $?)"

diag "trace excerpt:" "$(grep -E "mlx5vf_(arc|precopy_info): $src|mlx5vf_fw_cmd: $src (SUSPEND|SAVE)|mlx5vf_record: $src" "$trace" | head -n 24)"
diag "statistics of $src:" "$(cat "/sys/kernel/debug/mlx5vf/$src/statistics")"
diag "statistics of $dst:" "$(cat "/sys/kernel/debug/mlx5vf/$dst/statistics")"

check "unbind both VFs, rmmod mlx5vf_sim and mlx5vf" unbind_vfs
for vf in "$vf0" "$vf1"; do echo >"$vf/driver_override"; done
check "disable VFs" sh -c "echo 0 > $pf/sriov_numvfs"
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the test"
done_testing
