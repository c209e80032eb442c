# shellcheck shell=sh
# TAP helpers for the VM tests (busybox sh). Source it, emit results with ok/not_ok/check,
# end with done_testing (prints the plan after the fact and sets the exit status).
#
#   . "$TESTS_DIR/lib.sh"
#   mark=$(dmesg_mark mytest)
#   check "module loads" insmod "$MLX5VF_KO"
#   check_dmesg_clean "$mark" "no kernel splat"
#   done_testing

# Kernel log lines that mean a splat. Case-sensitive on purpose: "kasan:"/"kmemleak:" boot
# banners of a debug kernel are fine, "BUG: KASAN:" and "suspected memory leaks" are not.
# Lockdep reports start with "WARNING: ..."; its boot banner ("RCU lockdep checking is
# enabled") is not a report, "lockdep is turned off" (after a report) is.
VMTEST_DMESG_BAD='WARNING:|BUG:|Call Trace|lockdep is turned off|KASAN|UBSAN|kmemleak: .*suspected memory leak|Oops|general protection fault|INFO: task .* blocked'

_vt_n=0
_vt_fail=0

diag() { # diag LINE... ; each argument (multi-line allowed) becomes "# ..." lines
	for _vt_l in "$@"; do printf '%s\n' "$_vt_l" | sed 's/^/# /'; done
}
ok() { _vt_n=$((_vt_n + 1)); echo "ok $_vt_n - $*"; }
not_ok() { _vt_n=$((_vt_n + 1)); _vt_fail=$((_vt_fail + 1)); echo "not ok $_vt_n - $*"; }
skip() { _vt_n=$((_vt_n + 1)); echo "ok $_vt_n - $1 # SKIP ${2:-}"; }
# The whole test does not apply here; call before any result.
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# Stop the test: the remaining checks make no sense (counts as a failure).
bail_out() { echo "Bail out! $*"; exit 1; }
done_testing() { echo "1..$_vt_n"; [ "$_vt_fail" -eq 0 ]; exit $?; }

# result DESC STATUS: ok if STATUS is 0
result() { if [ "$2" -eq 0 ]; then ok "$1"; else not_ok "$1"; fi; }

# check DESC CMD [ARG...]: run CMD, ok on exit 0, else not_ok plus its output as diag.
check() {
	_vt_d=$1
	shift
	if _vt_out=$("$@" 2>&1); then
		ok "$_vt_d"
	else
		_vt_rc=$?
		not_ok "$_vt_d"
		diag "command: $* (exit $_vt_rc)"
		[ -z "$_vt_out" ] || diag "$_vt_out"
	fi
}

# wait_for SECONDS CMD [ARG...]: poll CMD every 0.1 s until it succeeds. SECONDS is
# how long the condition takes at most on an idle machine; a shared, busy one gets
# ten times that (capped below the /init's 300 s silence limit), so a slow step
# passes and only a condition that never comes fails.
wait_for() {
	_vt_end=$(($1 * 10))
	[ "$_vt_end" -le 200 ] || _vt_end=200
	_vt_end=$(($(uptime_s) + _vt_end * ${VMTEST_SLOW:-1}))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(uptime_s)" -lt "$_vt_end" ] || return 1
		sleep 0.1
	done
}

# pci_bars_placed SLOT|all: "info pci" on stdin shows BARs for the device in that
# slot of bus 0 (or for any device), and none of them unplaced.
pci_bars_placed() {
	awk -v slot="$1" '
		/^ *Bus +[0-9]+, device +[0-9]+, function/ { d = ($2 == "0," && (slot == "all" || $4 == slot ",")); next }
		d && $1 ~ /^BAR[0-9]:$/ { bars++; if ($0 ~ /at 0xffffffffffffffff/) unplaced++ }
		END { exit !(bars > 0 && !unplaced) }'
}

# uptime_s: whole seconds since boot (a monotonic clock for busybox sh).
uptime_s() { cut -d. -f1 /proc/uptime; }

# dmesg_mark NAME: write a unique line into the kernel log and print it, for dmesg_since.
dmesg_mark() {
	_vt_m="vmtest-mark: $1 $$ $(cut -d' ' -f1 /proc/uptime)"
	echo "$_vt_m" >/dev/kmsg
	echo "$_vt_m"
}
# dmesg_since MARK: kernel log lines after MARK (all lines if MARK is not found).
dmesg_since() {
	dmesg | awk -v m="$1" '
		found { print; next }
		index($0, m) { found = 1 }
		{ all[NR] = $0 }
		END { if (!found) for (i = 1; i <= NR; i++) print all[i] }'
}
# check_dmesg_clean MARK DESC: no splat in the kernel log since MARK.
check_dmesg_clean() {
	_vt_bad=$(dmesg_since "$1" | grep -E "$VMTEST_DMESG_BAD")
	if [ -z "$_vt_bad" ]; then
		ok "$2"
	else
		not_ok "$2"
		diag "$(printf '%s\n' "$_vt_bad" | head -n 20)"
	fi
}

# pci_find VENDOR DEVICE: sysfs paths of matching PCI functions, e.g. pci_find 0x8086 0x10c9
pci_find() {
	for _vt_d in /sys/bus/pci/devices/*; do
		[ "$(cat "$_vt_d/vendor")" = "$1" ] && [ "$(cat "$_vt_d/device")" = "$2" ] && echo "$_vt_d"
	done
	return 0
}

# load_sim PARAMS...: mlx5vf.ko, then the simulator mlx5vf_sim.ko that uses it (by
# path: insmod resolves no dependencies); sim_* parameters go to the simulator, the
# rest to mlx5vf. A module already loaded keeps its parameters. unload_sim: both.
load_sim() {
	_l_m='' _l_s=''
	for _l_p; do
		case $_l_p in
		sim_*) _l_s="$_l_s $_l_p" ;;
		*) _l_m="$_l_m $_l_p" ;;
		esac
	done
	for _l_d in $(modinfo -F depends "${MLX5VF_KO:?}" "${MLX5VF_SIM_KO:?}" | tr ',' ' '); do
		[ "$_l_d" = mlx5vf ] || modprobe "$_l_d"
	done
	# shellcheck disable=SC2086 # one word per parameter
	[ -d /sys/module/mlx5vf ] || insmod "$MLX5VF_KO" $_l_m || return 1
	# shellcheck disable=SC2086
	[ -d /sys/module/mlx5vf_sim ] || insmod "${MLX5VF_SIM_KO:?}" $_l_s || return 1
}
unload_sim() {
	rmmod mlx5vf_sim && rmmod mlx5vf
}

# bound_to DEVICE DRIVER: the PCI device (sysfs path) is bound to that driver.
bound_to() {
	[ "$(basename "$(readlink "$1/driver")")" = "$2" ]
}

# Two igb VFs for the tests that load the modules themselves with their own
# parameters (the uAPI client's, the trace test): uapi_vfs creates them (two TAP
# lines) and sets pf, vf0/vf1 (sysfs paths) and bdf0/bdf1; bind_vfs PARAMS... loads
# the modules (load_sim PARAMS) and binds both to mlx5vf_sim; unbind_vfs undoes it.
uapi_vfs() {
	check "modprobe igb" modprobe igb
	pf=$(pci_find 0x8086 0x10c9 | head -n 1)
	[ -n "$pf" ] || bail_out "no igb PF"
	check "create 2 VFs" sh -c "echo 2 > $pf/sriov_numvfs"
	vf0=$(readlink -f "$pf/virtfn0")
	vf1=$(readlink -f "$pf/virtfn1")
	bdf0=${vf0##*/}
	bdf1=${vf1##*/}
	if [ -z "$bdf0" ] || [ -z "$bdf1" ]; then bail_out "VFs did not appear"; fi
}
bind_vfs() {
	load_sim "$@" || return 1
	for _u_vf in "$vf0" "$vf1"; do
		_u_b=${_u_vf##*/}
		# A driver_override left by an earlier bind binds at insmod already.
		if ! bound_to "$_u_vf" mlx5vf_sim; then
			[ ! -e "$_u_vf/driver" ] || echo "$_u_b" >"$_u_vf/driver/unbind"
			echo mlx5vf_sim >"$_u_vf/driver_override" || return 1
			echo "$_u_b" >/sys/bus/pci/drivers_probe 2>/dev/null
		fi
		bound_to "$_u_vf" mlx5vf_sim || return 1
		[ -c "/dev/vfio/$(basename "$(readlink "$_u_vf/iommu_group")")" ] || return 1
	done
}
unbind_vfs() {
	for _u_vf in "$vf0" "$vf1"; do
		[ ! -e "$_u_vf/driver" ] || echo "${_u_vf##*/}" >"$_u_vf/driver/unbind"
	done
	unload_sim
}

# The uAPI client, tools/mlx5vf-mig ($client, or found in PATH).
# relay FILE: the client's TAP, renumbered as this test's own lines.
relay() {
	_r_plan=""
	_r_seen=0
	while IFS= read -r l; do
		case "$l" in
		"ok "*) _r_seen=$((_r_seen + 1)); ok "$(printf '%s\n' "$l" | sed -E 's/^ok [0-9]+( - )?//')" ;;
		"not ok "*) _r_seen=$((_r_seen + 1)); not_ok "$(printf '%s\n' "$l" | sed -E 's/^not ok [0-9]+( - )?//')" ;;
		1..*) _r_plan=${l#1..} ;;
		"#"*) echo "$l" ;;
		"Bail out!"*) _r_seen=$((_r_seen + 1)); not_ok "mlx5vf-mig: ${l#Bail out! }" ;;
		*) diag "$l" ;;
		esac
	done <"$1"
	[ -n "$_r_plan" ] && [ "$_r_plan" -eq "$_r_seen" ]
}

# run_client DESC ARGS...: run the client, relay its TAP as it comes (its
# lines, and its "# working" heartbeat while a long check runs, are this
# test's progress for /init), then one line for its exit status and plan.
# No time budget: the client's watchdog bails out when one of its calls has
# not returned for a minute (vmtest.slow minutes on a debug kernel).
run_client() {
	_c_desc=$1
	shift
	fifo=/tmp/mlx5vf-mig.$$.fifo
	rm -f "$fifo"
	mkfifo "$fifo" || return 1
	"${client:-mlx5vf-mig}" --stall $((60 * ${VMTEST_SLOW:-1})) "$@" >"$fifo" 2>&1 &
	_c_pid=$!
	if relay "$fifo"; then _c_plan=0; else _c_plan=1; fi
	wait "$_c_pid"
	_c_rc=$?
	if [ "$_c_rc" -eq 0 ] && [ "$_c_plan" -eq 0 ]; then
		ok "$_c_desc: mlx5vf-mig exit 0, plan matches"
	else
		not_ok "$_c_desc: mlx5vf-mig exit $_c_rc, plan ${_r_plan:-missing} for $_r_seen results"
	fi
	rm -f "$fifo"
}
