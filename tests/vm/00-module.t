#!/bin/sh
# mlx5vf.ko loads into the stock kernel, registers its pci_driver, unloads, and does it
# again; no kernel splat; the only taints are O (out-of-tree) and E (unsigned).
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

ko=${MLX5VF_KO:-/lib/mlx5vf/mlx5vf.ko}
drv=/sys/bus/pci/drivers/mlx5vf
TAINT_OOT=4096
TAINT_UNSIGNED=8192

[ -f "$ko" ] || bail_out "$ko is not in the initramfs (mkinitramfs --extra-ko path/to/mlx5vf.ko)"

# The module's dependencies (vfio-pci-core, mlx5_core, ...) from its own modinfo.
for d in $(modinfo -F depends "$ko" | tr ',' ' '); do
	modprobe "$d" || diag "modprobe $d failed"
done
diag "taint before load: $(cat /proc/sys/kernel/tainted)"

mark=$(dmesg_mark 00-module)
for round in 1 2; do
	check "insmod mlx5vf.ko (round $round)" insmod "$ko"
	check "pci driver mlx5vf registered (round $round)" test -d "$drv"
	if [ "$round" -eq 1 ]; then
		taint=$(cat /proc/sys/kernel/tainted)
		other=$((taint & ~(TAINT_OOT | TAINT_UNSIGNED)))
		result "kernel taint is only O/E after load (tainted=$taint)" "$other"
		[ "$other" -eq 0 ] || diag "unexpected taint bits: $other (see Documentation/admin-guide/tainted-kernels.rst)"
	fi
	check "rmmod mlx5vf (round $round)" rmmod mlx5vf
	check "pci driver mlx5vf gone (round $round)" test ! -e "$drv"
done
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN since the first insmod"
done_testing
