#!/bin/sh
# The VM's test bed for vfio_pci_core drivers: QEMU's igb PF (8086:10c9) behind the
# emulated intel-iommu creates an SR-IOV VF (8086:10ca) in its own IOMMU group, which
# binds to vfio-pci through driver_override and gets /dev/vfio/<group>.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

mark=$(dmesg_mark 01-igb-vf)
check "modprobe igb" modprobe igb
check "modprobe vfio-pci" modprobe vfio-pci

pf=$(pci_find 0x8086 0x10c9 | head -n 1)
[ -n "$pf" ] || bail_out "no igb PF (8086:10c9); is QEMU started with -device igb?"
ok "igb PF at ${pf##*/}"
diag "PF driver: $(basename "$(readlink "$pf/driver")"), sriov_totalvfs=$(cat "$pf/sriov_totalvfs")"

check "create 1 VF" sh -c "echo 1 > $pf/sriov_numvfs"
vf=$(readlink -f "$pf/virtfn0" 2>/dev/null)
if [ -n "$vf" ] && [ -d "$vf" ] &&
	[ "$(cat "$vf/vendor"):$(cat "$vf/device")" = "0x8086:0x10ca" ]; then
	ok "VF 8086:10ca at ${vf##*/}"
else
	not_ok "VF 8086:10ca appears as virtfn0"
	bail_out "no VF"
fi

group=$(basename "$(readlink "$vf/iommu_group")")
pf_group=$(basename "$(readlink "$pf/iommu_group")")
members=$(ls "/sys/kernel/iommu_groups/$group/devices")
if [ -n "$group" ] && [ "$group" != "$pf_group" ] && [ "$members" = "${vf##*/}" ]; then
	ok "VF alone in IOMMU group $group (PF in $pf_group)"
else
	not_ok "VF alone in its IOMMU group"
	diag "VF group '$group', PF group '$pf_group', members: $members"
fi

check "driver_override=vfio-pci" sh -c "echo vfio-pci > $vf/driver_override"
# The VF may already be bound if a driver matched it at creation; we want vfio-pci.
[ ! -e "$vf/driver" ] || echo "${vf##*/}" >"$vf/driver/unbind"
check "probe VF" sh -c "echo ${vf##*/} > /sys/bus/pci/drivers_probe"
check "VF bound to vfio-pci" test "$(basename "$(readlink "$vf/driver")")" = vfio-pci
check "/dev/vfio/$group is a char device" test -c "/dev/vfio/$group"

check "unbind VF from vfio-pci" sh -c "echo ${vf##*/} > /sys/bus/pci/drivers/vfio-pci/unbind"
check "VF has no driver" test ! -e "$vf/driver"
check "/dev/vfio/$group removed" test ! -e "/dev/vfio/$group"
check "clear driver_override" sh -c "echo > $vf/driver_override"

check "disable VFs" sh -c "echo 0 > $pf/sriov_numvfs"
check "VF gone" test ! -e "$pf/virtfn0"
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the test"
done_testing
