#!/bin/sh
# mlx5vf.ko loads into the stock kernel and registers its pci_driver; the simulator
# mlx5vf_sim.ko loads on top of it (its one dependency among ours) and registers its
# own; mlx5vf cannot go while the simulator uses it; both unload, and do it all
# again; no kernel splat; the only taints are O (out-of-tree) and E (unsigned).
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

ko=${MLX5VF_KO:-/lib/mlx5vf/mlx5vf.ko}
sim_ko=${MLX5VF_SIM_KO:-/lib/mlx5vf/mlx5vf_sim.ko}
drv=/sys/bus/pci/drivers/mlx5vf
sim_drv=/sys/bus/pci/drivers/mlx5vf_sim
TAINT_OOT=4096
TAINT_UNSIGNED=8192

[ -f "$ko" ] || bail_out "$ko is not in the initramfs (mkinitramfs --extra-ko path/to/mlx5vf.ko)"
[ -f "$sim_ko" ] || bail_out "$sim_ko is not in the initramfs (mkinitramfs --extra-ko path/to/mlx5vf_sim.ko)"
result "mlx5vf_sim.ko depends on mlx5vf ($(modinfo -F depends "$sim_ko"))" \
	"$(modinfo -F depends "$sim_ko" | tr ',' '\n' | grep -qx mlx5vf; echo $?)"

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
	check "insmod mlx5vf_sim.ko (round $round)" insmod "$sim_ko"
	check "pci driver mlx5vf_sim registered (round $round)" test -d "$sim_drv"
	check "rmmod mlx5vf refused while mlx5vf_sim uses it (round $round)" sh -c '! rmmod mlx5vf 2>/dev/null'
	check "rmmod mlx5vf_sim (round $round)" rmmod mlx5vf_sim
	check "pci driver mlx5vf_sim gone (round $round)" test ! -e "$sim_drv"
	check "rmmod mlx5vf (round $round)" rmmod mlx5vf
	check "pci driver mlx5vf gone (round $round)" test ! -e "$drv"
done
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN since the first insmod"
done_testing
