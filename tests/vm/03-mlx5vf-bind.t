#!/bin/sh
# mlx5vf is a working vfio_pci_core driver: it refuses a non-ConnectX VF, saying
# that mlx5vf_sim drives those; an igb VF bound to mlx5vf_sim by explicit
# driver_override is a simulated migratable VF with /dev/vfio/<group> (mlx5vf's
# VFIO device, the simulator's firmware), real QEMU opens and realizes it as
# vfio-pci with migration enabled, and unbinding/unloading leaves the VF free and
# the kernel clean.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

ko=${MLX5VF_KO:-/lib/mlx5vf/mlx5vf.ko}
MLX5VF_SIM_KO=${MLX5VF_SIM_KO:-/lib/mlx5vf/mlx5vf_sim.ko}
qemu=${VM_QEMU:-}
[ -f "$ko" ] || bail_out "$ko is not in the initramfs"
[ -f "$MLX5VF_SIM_KO" ] || bail_out "$MLX5VF_SIM_KO is not in the initramfs"

mark=$(dmesg_mark 03-mlx5vf-bind)
check "modprobe igb" modprobe igb
for d in $(modinfo -F depends "$ko" | tr ',' ' '); do modprobe "$d"; done
pf=$(pci_find 0x8086 0x10c9 | head -n 1)
[ -n "$pf" ] || bail_out "no igb PF"
check "create 1 VF" sh -c "echo 1 > $pf/sriov_numvfs"
vf=$(readlink -f "$pf/virtfn0")
bdf=${vf##*/}
[ ! -e "$vf/driver" ] || echo "$bdf" >"$vf/driver/unbind"
check "driver_override=mlx5vf" sh -c "echo mlx5vf > $vf/driver_override"

# The hardware driver refuses a non-ConnectX device, with one line saying why.
check "insmod mlx5vf.ko" insmod "$ko"
echo "$bdf" >/sys/bus/pci/drivers_probe 2>/dev/null
check "igb VF not bound to mlx5vf" test ! -e "$vf/driver"
check "dmesg names the simulator" sh -c "dmesg | grep -q 'mlx5vf_sim.ko drives other devices as simulated VFs'"
check "no debugfs directory for it" test ! -e "/sys/kernel/debug/mlx5vf/$bdf"

check "driver_override=mlx5vf_sim" sh -c "echo mlx5vf_sim > $vf/driver_override"
check "insmod mlx5vf_sim.ko" load_sim
check "probe VF" sh -c "echo $bdf > /sys/bus/pci/drivers_probe"
check "VF bound to mlx5vf_sim" bound_to "$vf" mlx5vf_sim
check "dmesg: migration offered by mlx5vf_sim" \
	sh -c "dmesg | grep '$bdf' | grep -q 'VFIO migration offered by mlx5vf_sim'"
check "debugfs shows the simulated VF in RUNNING" \
	grep -q "state: RUNNING" "/sys/kernel/debug/mlx5vf/$bdf/migration"
check "debugfs has the simulator's view" grep -q "^sim_checksum: " "/sys/kernel/debug/mlx5vf/$bdf/sim"
group=$(basename "$(readlink "$vf/iommu_group")")
check "/dev/vfio/$group exists" test -c "/dev/vfio/$group"

if [ -n "$qemu" ] && [ -x "$qemu" ]; then
	cd /tmp || bail_out "no /tmp"
	out=$(printf 'info pci\nquit\n' | timeout -s KILL 120 "$qemu" -M pc -accel tcg -nodefaults \
		-display none -m 32 -S -monitor stdio \
		-device "vfio-pci,host=$bdf,id=vf0,addr=0x5,enable-migration=on,x-device-dirty-page-tracking=off" 2>&1)
	rc=$?
	result "QEMU realizes vfio-pci on the mlx5vf_sim-bound VF (exit $rc)" "$rc"
	case "$out" in
	*"Ethernet controller: PCI device 8086:10ca"* | *"8086:10ca"*) ok "guest sees the VF (8086:10ca) at 00:05.0" ;;
	*) not_ok "guest sees the VF (8086:10ca)"; diag "$out" ;;
	esac
else
	skip "QEMU realizes vfio-pci on the mlx5vf_sim-bound VF" "no QEMU in the initramfs"
fi

check "unbind VF from mlx5vf_sim" sh -c "echo $bdf > /sys/bus/pci/drivers/mlx5vf_sim/unbind"
check "/dev/vfio/$group removed" test ! -e "/dev/vfio/$group"
check "clear driver_override" sh -c "echo > $vf/driver_override"
check "disable VFs" sh -c "echo 0 > $pf/sriov_numvfs"
check "rmmod mlx5vf_sim, mlx5vf" unload_sim
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the test"
done_testing
