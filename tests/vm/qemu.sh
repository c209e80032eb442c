# shellcheck shell=sh
# Nested QEMU helpers for the VM tests and the demo (busybox sh): simulated VFs
# bound to mlx5vf_sim, QEMU instances driven over HMP through FIFOs, and a live
# migration between two of them. Source after lib.sh.

QEMU=${VM_QEMU:-qemu-system-x86_64}
RUN=/tmp/qemu-run
mkdir -p "$RUN"
# Migrations run over loopback TCP.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

# sim_vfs N: load igb, mlx5vf and mlx5vf_sim, create N igb VFs bound to
# mlx5vf_sim; prints their BDFs, one a line.
sim_vfs() {
	modprobe igb || return 1
	load_sim || return 1
	_q_pf=$(pci_find 0x8086 0x10c9 | head -n 1)
	[ -n "$_q_pf" ] || return 1
	echo "$1" >"$_q_pf/sriov_numvfs" || return 1
	_q_i=0
	while [ "$_q_i" -lt "$1" ]; do
		_q_vf=$(readlink -f "$_q_pf/virtfn$_q_i")
		[ ! -e "$_q_vf/driver" ] || echo "${_q_vf##*/}" >"$_q_vf/driver/unbind"
		echo mlx5vf_sim >"$_q_vf/driver_override"
		echo "${_q_vf##*/}" >/sys/bus/pci/drivers_probe
		bound_to "$_q_vf" mlx5vf_sim || return 1
		echo "${_q_vf##*/}"
		_q_i=$((_q_i + 1))
	done
}

# igb_vfs_remove: unbind and destroy the igb PF's VFs.
igb_vfs_remove() {
	_q_pf=$(pci_find 0x8086 0x10c9 | head -n 1)
	for _q_vf in "$_q_pf"/virtfn*; do
		[ -e "$_q_vf" ] || continue
		_q_vf=$(readlink -f "$_q_vf")
		[ ! -e "$_q_vf/driver" ] || echo "${_q_vf##*/}" >"$_q_vf/driver/unbind"
		echo >"$_q_vf/driver_override"
	done
	echo 0 >"$_q_pf/sriov_numvfs"
}

# sim_vfs_remove: unbind and destroy the VFs, unload both modules.
sim_vfs_remove() {
	igb_vfs_remove
	unload_sim
}

# rebind BDF: unbind and probe again (picks up changed sim_* parameters).
rebind() {
	echo "$1" >/sys/bus/pci/drivers/mlx5vf_sim/unbind && echo "$1" >/sys/bus/pci/drivers_probe
}

# mig_field BDF FIELD: a line of the VF's debugfs views: its migration (mlx5vf)
# and its simulation (mlx5vf_sim: checksums, DMA counters).
mig_field() {
	cat "/sys/kernel/debug/mlx5vf/$1/migration" "/sys/kernel/debug/mlx5vf/$1/sim" 2>/dev/null |
		sed -n "s/^$2: //p"
}

# qemu_start NAME DEV [ARG...]: a guest with the VF assigned, HMP on FIFOs.
# Without device dirty tracking (stock kernel) QEMU falls back to the type1
# container's dirty bitmap, which refuses the VF's sub-page BAR mappings:
# x-no-mmap keeps BARs out of the IOMMU so RAM is all it tracks.
# DEV is a PCI address, or the UUID of an mdev instance (sysfsdev=).
qemu_start() {
	_q_name=$1 _q_bdf=$2
	shift 2
	rm -f "$RUN/$_q_name.in" "$RUN/$_q_name.out" "$RUN/$_q_name.log" "$RUN/$_q_name.fw"
	mkfifo "$RUN/$_q_name.in" "$RUN/$_q_name.out"
	: >"$RUN/$_q_name.log"
	_q_host="host=$_q_bdf"
	[ ! -d "/sys/bus/mdev/devices/$_q_bdf" ] || _q_host="sysfsdev=/sys/bus/mdev/devices/$_q_bdf"
	# shellcheck disable=SC2046 # firmware_log's options, split on purpose
	"$QEMU" -M pc -accel tcg -m 16 -nodefaults -no-user-config -display none \
		-device "vfio-pci,$_q_host,id=vf0,addr=0x5,enable-migration=on,x-device-dirty-page-tracking=off,x-no-mmap=on" \
		$(firmware_log "$_q_name") -monitor "pipe:$RUN/$_q_name" "$@" >"$RUN/$_q_name.stderr" 2>&1 &
	echo $! >"$RUN/$_q_name.pid"
	cat "$RUN/$_q_name.out" >>"$RUN/$_q_name.log" &
	# Keep the command FIFO open for writing across hmp calls (qemu_stop ends it).
	sleep 2147483647 >"$RUN/$_q_name.in" &
	echo $! >"$RUN/$_q_name.holder"
	qemu_prompt "$_q_name" && qemu_settle "$_q_name" "$@"
}

# firmware_log NAME: QEMU options that send the guest firmware's (SeaBIOS's)
# debug port 0x402 to $RUN/NAME.fw. Every instance has it, sources and
# destinations alike, so that their machines match.
firmware_log() {
	echo "-chardev file,id=fwlog,path=$RUN/$1.fw -device isa-debugcon,iobase=0x402,chardev=fwlog"
}

# guest_pci_ready NAME: the guest firmware has given every BAR of the device in
# slot 5 an address ("info pci").
guest_pci_ready() {
	hmp "$1" "info pci" | pci_bars_placed 5
}

# guest_firmware_done NAME: SeaBIOS has finished its POST and found nothing to
# boot, so it changes the memory map no more. Until then it places BARs and at
# the end makes its shadow BIOS read-only (PAM), and each change can merge or
# split the FlatRange that holds guest RAM: QEMU's VFIO listener then unmaps and
# maps that RAM again, and the type1 container's dirty log of the device's
# writes goes with the old mapping (QEMU asks for it on unmap only for vIOMMU
# mappings). A migration started then loses those writes: guest pages that
# differ on the destination (seen in 2 of 51 mdev migrations, one with a write
# VFIO refused as unmapped). A real guest has booted long before anyone
# migrates it.
guest_firmware_done() {
	grep -q "No bootable device" "$RUN/$1.fw"
}

# qemu_settle NAME ARG...: unless the instance waits for an incoming migration
# or was started stopped (-incoming, -S among ARG), wait until its firmware has
# placed the device's BARs and then finished.
qemu_settle() {
	_q_settle=$1
	shift
	for _q_a in "$@"; do
		case "$_q_a" in -incoming | -S) return 0 ;; esac
	done
	wait_for 60 guest_pci_ready "$_q_settle" && wait_for 60 guest_firmware_done "$_q_settle"
}

# qemu_prompt NAME: wait for the instance's first monitor prompt, as long as
# QEMU lives (fails once it has exited: a bad command line, a refused device).
qemu_prompt() {
	_q_pid=$(cat "$RUN/$1.pid")
	until grep -q '(qemu)' "$RUN/$1.log"; do
		kill -0 "$_q_pid" 2>/dev/null || return 1
		sleep 0.1
	done
}

# hmp NAME CMD: run a monitor command, print its output. Waits for the next
# prompt as long as QEMU lives, however busy the machine: a monitor that never
# answers is a hang, which the VM's /init catches by the test's silence.
hmp() {
	_q_before=$(wc -c <"$RUN/$1.log")
	printf '%s\n' "$2" >"$RUN/$1.in"
	_q_pid=$(cat "$RUN/$1.pid" 2>/dev/null)
	while :; do
		_q_new=$(tail -c +"$((_q_before + 1))" "$RUN/$1.log")
		case "$_q_new" in *"(qemu)"*) break ;; esac
		kill -0 "$_q_pid" 2>/dev/null || break
		sleep 0.1
	done
	printf '%s\n' "$_q_new" | tr -d '\r' | grep -v '^(qemu)' | grep -vF "$2"
}

# guest_runs NAME: the instance's guest is running (HMP "info status").
guest_runs() {
	hmp "$1" "info status" | grep -q 'status: running'
}

# qemu_stop NAME: quit the instance (kill it if it does not listen).
qemu_stop() {
	[ -f "$RUN/$1.pid" ] || return 0
	_q_pid=$(cat "$RUN/$1.pid")
	printf 'quit\n' >"$RUN/$1.in" 2>/dev/null
	_q_tries=50
	while kill -0 "$_q_pid" 2>/dev/null && [ "$_q_tries" -gt 0 ]; do
		sleep 0.1
		_q_tries=$((_q_tries - 1))
	done
	kill -9 "$_q_pid" 2>/dev/null
	kill "$(cat "$RUN/$1.holder")" 2>/dev/null
	wait "$_q_pid" 2>/dev/null
	rm -f "$RUN/$1.pid"
}

# mig_caps NAME: the capabilities every migration here uses. The type1
# container reports all guest RAM dirty at every sync (no device dirty
# tracking on the stock kernel), so precopy never shrinks RAM: a generous
# downtime limit lets it switch over once the device's initial data is sent.
mig_caps() {
	hmp "$1" "migrate_set_capability return-path on" >/dev/null
	hmp "$1" "migrate_set_capability switchover-ack on" >/dev/null
	hmp "$1" "migrate_set_parameter downtime-limit 20000" >/dev/null
}

# migration_status: the status word of "info migrate" on stdin: "Status:
# completed" (QEMU 10.0) or "Status:\t\tcompleted" (11.1).
migration_status() {
	sed -n 's/^Status:[[:space:]]*//p; s/^Migration status:[[:space:]]*//p' | head -n 1 | awk '{ print $1 }'
}

# migrate_wait NAME STALL: poll "info migrate" until the migration ends and print
# the final status (completed, failed, cancelled), or "stalled" once neither its
# status nor its transferred or dirty-sync counts have moved for STALL seconds: a
# slow migration is not a hung one. Every 30 s a "# ..." line on stderr says where
# it is, which is this test's progress for the VM's /init.
migrate_wait() {
	_q_mark="" _q_since=$(uptime_s)
	_q_beat=$_q_since
	while :; do
		_q_info=$(hmp "$1" "info migrate")
		_q_status=$(printf '%s\n' "$_q_info" | migration_status)
		case "$_q_status" in
		completed | failed | cancelled) echo "$_q_status"; return 0 ;;
		esac
		_q_now=$(uptime_s)
		_q_new=$(printf '%s\n' "$_q_info" | grep -iE '^(migration )?status:|transferred|dirty sync count')
		if [ "$_q_new" != "$_q_mark" ]; then
			_q_mark=$_q_new
			_q_since=$_q_now
		elif [ $((_q_now - _q_since)) -ge "$2" ]; then
			echo stalled
			return 0
		fi
		if [ $((_q_now - _q_beat)) -ge 30 ]; then
			echo "# migrate_wait $1: $(printf '%s' "$_q_mark" | tr '\n' ',')" >&2
			_q_beat=$_q_now
		fi
		sleep 0.2
	done
}

# ack_trace NAME: QEMU options that log the source's receipt of the
# destination's switchover ack to $RUN/NAME.trace (wait_switchover_acked).
ack_trace() {
	echo "-trace source_return_path_thread_switchover_acked -D $RUN/$1.trace"
}

# wait_switchover_acked NAME STALL: wait until the source QEMU NAME (started with
# ack_trace's options) has the destination's switchover ack: every device's
# initial data has arrived. Fails once the migration has ended, or when its VFIO
# device bytes have not moved for STALL seconds while the ack is still due.
#
# Hold precopy with a 1 ms downtime limit meanwhile. QEMU calls a device's
# iterate only while the rate limit leaves room after RAM, and a VF whose
# container logs every page dirty refills RAM at each exact-pending sync, which
# a large downtime limit asks for every iteration: RAM then takes every window
# and a device whose initial image needs several reads never sends it.
wait_switchover_acked() {
	_q_mark="" _q_since=$(uptime_s)
	until grep -q switchover_acked "$RUN/$1.trace" 2>/dev/null; do
		_q_info=$(hmp "$1" "info migrate")
		case "$(printf '%s\n' "$_q_info" | migration_status)" in
		completed | failed | cancelled) return 1 ;;
		esac
		# QEMU 10.0: "vfio device transferred: N kbytes"; 11.1: "Channels: ..., vfio=N KiB".
		_q_new=$(printf '%s\n' "$_q_info" | grep -io 'vfio[= ][^,]*')
		if [ "$_q_new" != "$_q_mark" ]; then
			_q_mark=$_q_new
			_q_since=$(uptime_s)
		elif [ $(($(uptime_s) - _q_since)) -ge "$2" ]; then
			echo "# wait_switchover_acked $1: device bytes stalled at: $_q_mark" >&2
			return 1
		fi
		sleep 0.5
	done
}

# wait_precopy NAME DEV: wait until the source QEMU NAME's device DEV (a PCI
# address or an mdev UUID: its mlx5vf debugfs directory) is in PRE_COPY. Fails
# only once that cannot happen any more: the migration ended. A slow machine
# only makes it wait longer; a hung QEMU blocks hmp, which the VM's /init
# catches by the test's silence.
wait_precopy() {
	until grep -q 'state: PRE_COPY' "/sys/kernel/debug/mlx5vf/$2/migration"; do
		case "$(hmp "$1" "info migrate" | migration_status)" in
		completed | failed | cancelled) return 1 ;;
		esac
		sleep 0.5
	done
}

# mem_sum NAME FILE: md5 of the guest's whole RAM (-m 16), saved by QEMU into FILE.
mem_sum() {
	rm -f "$2"
	# pmemsave has written the file when the monitor answers.
	_q_out=$(hmp "$1" "pmemsave 0 16777216 \"$2\"")
	if [ "$(wc -c <"$2" 2>/dev/null)" = 16777216 ]; then
		md5sum "$2" | cut -d' ' -f1
	else
		echo "# pmemsave on $1: $_q_out" >&2
	fi
}

# qemu_start_dev NAME DEVICE [ARG...]: like qemu_start, but the guest gets the
# -device string DEVICE (e.g. an mdev: "vfio-pci,sysfsdev=/sys/bus/mdev/devices/UUID,...")
# instead of a PCI VF with qemu_start's fixed options.
qemu_start_dev() {
	_q_name=$1 _q_dev=$2
	shift 2
	rm -f "$RUN/$_q_name.in" "$RUN/$_q_name.out" "$RUN/$_q_name.log" "$RUN/$_q_name.fw"
	mkfifo "$RUN/$_q_name.in" "$RUN/$_q_name.out"
	: >"$RUN/$_q_name.log"
	# shellcheck disable=SC2046 # firmware_log's options, split on purpose
	"$QEMU" -M pc -accel tcg -m 16 -nodefaults -no-user-config -display none \
		-device "$_q_dev" $(firmware_log "$_q_name") -monitor "pipe:$RUN/$_q_name" "$@" \
		>"$RUN/$_q_name.stderr" 2>&1 &
	echo $! >"$RUN/$_q_name.pid"
	cat "$RUN/$_q_name.out" >>"$RUN/$_q_name.log" &
	sleep 2147483647 >"$RUN/$_q_name.in" &
	echo $! >"$RUN/$_q_name.holder"
	qemu_prompt "$_q_name" && qemu_settle "$_q_name" "$@"
}

# pci_io_bar NAME SLOT BAR: the guest I/O port address the firmware gave BAR
# (0-5) of the device in SLOT (decimal) of bus 0, from "info pci"; fails while
# the BAR is not mapped yet (guest firmware still enumerating).
pci_io_bar() {
	hmp "$1" "info pci" | awk -v slot="$2" -v bar="BAR$3:" '
		/^ *Bus +[0-9]+, device +[0-9]+, function/ { d = ($2 == "0," && $4 == slot ",") ; next }
		d && $1 == bar && $2 == "I/O" && $3 == "at" { print $4; found = 1; exit }
		END { exit !found }'
}
