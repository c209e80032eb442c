#!/bin/sh
# Debug kernel only (scripts/vm/check-debug ships it after tests/vm/*.t, before the
# kmemleak scan): the KUnit suites (kunit/*.c) inside the running debug kernel, with
# KASAN, lockdep and kmemleak watching. check-debug builds two KUnit modules
# (MLX5VF_KUNIT=1, Kbuild): a second mlx5vf.ko with every kunit/*.c but the emulated
# PF's linked in, shipped as $MLX5VF_KUNIT_KO, and the test-only
# mlx5vf_mlx5_emu_test.ko ($MLX5VF_MLX5_EMU_TEST_KO: the mlx5 backend over the
# emulated PF, and its suites). KUnit runs a module's suites when it is loaded. This
# test loads each in turn, alone, reports every case and every suite as a TAP line
# from /sys/kernel/debug/kunit/<suite>/results, and unloads it.
# It runs late on purpose: running tests taints the kernel (TAINT_TEST), and
# 00-module checks that loading mlx5vf adds no taint but O/E.
# shellcheck source=../../tests/vm/lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

kd=/sys/kernel/debug/kunit
[ -n "${MLX5VF_KUNIT_KO:-}" ] || skip_all "no MLX5VF_KUNIT_KO in this image (only check-debug builds it)"
[ -d "$kd" ] || skip_all "no $kd (kernel without CONFIG_KUNIT/CONFIG_KUNIT_DEBUGFS)"

# The KUnit build of mlx5vf.ko is the same module (name mlx5vf): the production one
# must be gone, and before it the simulator that uses it. The emulated PF's module
# shares mlx5vf.ko's tracepoint names (Kbuild): it too runs without mlx5vf loaded.
if grep -q '^mlx5vf_sim ' /proc/modules; then
	check "rmmod mlx5vf_sim left loaded by an earlier test" rmmod mlx5vf_sim
fi
if grep -q '^mlx5vf ' /proc/modules; then
	check "rmmod the production mlx5vf left loaded by an earlier test" rmmod mlx5vf
fi

# run_kunit_ko KO NAME WHAT: load KO (module NAME), report its suites, unload it.
run_kunit_ko() {
	ko=$1 name=$2 what=$3
	if [ ! -f "$ko" ]; then
		not_ok "$what: $ko is not in the initramfs"
		return
	fi
	for d in $(modinfo -F depends "$ko" | tr ',' ' '); do
		modprobe "$d" || diag "modprobe $d failed"
	done
	before=$(ls "$kd")
	mark=$(dmesg_mark "98-kunit $name")
	t0=$(cut -d' ' -f1 /proc/uptime)
	# The suites run inside insmod, each case adding a result line to the kernel log:
	# while that count grows, say so every 30 s (progress for /init's idle watchdog; a
	# hung case stops the count, and then the lines).
	insmod "$ko" >"/tmp/98-kunit.insmod" 2>&1 &
	ipid=$!
	seen=0 beat=$(uptime_s)
	while kill -0 "$ipid" 2>/dev/null; do
		sleep 1
		[ $(($(uptime_s) - beat)) -ge 30 ] || continue
		beat=$(uptime_s)
		n=$(dmesg_since "$mark" | grep -cE '^\[ *[0-9.]*\] +(not )?ok [0-9]+ ')
		[ "$n" -eq "$seen" ] || diag "KUnit: $n results in the log so far"
		seen=$n
	done
	wait "$ipid"
	irc=$?
	result "insmod $what (its suites run during the load)" "$irc"
	[ "$irc" -eq 0 ] || diag "$(cat /tmp/98-kunit.insmod)"
	t1=$(cut -d' ' -f1 /proc/uptime)
	diag "load and suites took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

	if dmesg_since "$mark" | grep -q 'kunit: disabled'; then
		not_ok "KUnit is disabled in this kernel: boot with kunit.enable=1 (check-debug does)"
		check "rmmod $what" rmmod "$name"
		return
	fi

	# The suites this load ran: debugfs directories that were not there before.
	suites="" n=0
	for d in "$kd"/*/; do
		s=${d%/}
		s=${s##*/}
		[ -d "$d" ] || continue
		printf '%s\n' "$before" | grep -qxF "$s" && continue
		suites="$suites $s"
		n=$((n + 1))
	done
	# KUnit also announces how many suites a module has: "KTAP version 1" then "1..N" at
	# the top level of the kernel log (a suite's own plan is indented).
	planned=$(dmesg_since "$mark" | sed -n 's/^\[ *[0-9.]*\] 1\.\.\([0-9][0-9]*\)$/\1/p' | tail -n 1)
	if [ -n "$planned" ] && [ "$n" -eq "$planned" ] && [ "$n" -gt 0 ]; then
		ok "$what: KUnit ran $n suites, as many as it announced"
	else
		not_ok "$what: KUnit ran $n suites, announced ${planned:-none}"
		diag "$(dmesg_since "$mark" | tail -n 40)"
	fi

	# results: "    ok N case [# SKIP why]" per case (parameterised cases add deeper
	# levels, summarised by their case line), then "ok 1 suite" last. No pipes into the
	# loops: ok/not_ok must count in this shell.
	tmp=$(mktemp -d)
	for s in $suites; do
		cat "$kd/$s/results" >"$tmp/res" 2>&1
		grep -E '^    (not )?ok [0-9]+ ' "$tmp/res" >"$tmp/cases" || true
		if [ ! -s "$tmp/cases" ]; then
			not_ok "$s: no test case results"
			diag "$(head -n 40 "$tmp/res")"
		fi
		while IFS= read -r l; do
			c=$(printf '%s\n' "$l" | sed -E 's/^ *(not )?ok [0-9]+ //')
			case "$l" in
			"    not ok"*) not_ok "$s: $c" ;;
			*) ok "$s: $c" ;;
			esac
		done <"$tmp/cases"
		# A failing case's expectation messages, as TAP comments.
		if grep -q '^    not ok' "$tmp/cases"; then
			diag "$(grep -vE '^ *(KTAP version|1\.\.|ok [0-9]|# Subtest)' "$tmp/res" | head -n 60)"
		fi
		if grep -qE '^ok [0-9]+ ' "$tmp/res"; then
			ok "$s: suite"
		else
			not_ok "$s: suite"
		fi
	done
	rm -rf "$tmp"

	check "rmmod $what" rmmod "$name"
	check_dmesg_clean "$mark" "$what: no WARNING/BUG/Call Trace/lockdep/KASAN while the suites ran"
}

run_kunit_ko "$MLX5VF_KUNIT_KO" mlx5vf "the KUnit build of mlx5vf.ko"
if [ -n "${MLX5VF_MLX5_EMU_TEST_KO:-}" ]; then
	run_kunit_ko "$MLX5VF_MLX5_EMU_TEST_KO" mlx5vf_mlx5_emu_test \
		"mlx5vf_mlx5_emu_test.ko (the mlx5 backend over the emulated PF)"
else
	not_ok "no MLX5VF_MLX5_EMU_TEST_KO in this image: check-debug ships it with MLX5VF_KUNIT_KO"
fi
done_testing
