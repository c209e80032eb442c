#!/bin/sh
# QEMU (10.0 from bookworm-backports, or 11.1 from trixie-backports) runs inside the VM (the nested migration tests need it): the binary, its
# libraries and firmware made it into the initramfs, and a paused pc machine starts,
# answers on its monitor and quits.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

qemu=${VM_QEMU:-}
if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
	skip_all "no QEMU in this initramfs (mkinitramfs --with-qemu)"
fi

# The image says which QEMU it packed (VM_QEMU_VERSION): that one must be what runs.
ver=$("$qemu" --version 2>&1 | head -n 1)
case "$ver" in
*"version ${VM_QEMU_VERSION:-?} "* | *"version ${VM_QEMU_VERSION:-?}") ok "qemu --version is ${VM_QEMU_VERSION:-?} ($ver)" ;;
*) not_ok "qemu --version is ${VM_QEMU_VERSION:-?}"; diag "got: $ver" ;;
esac

cd /tmp || bail_out "no /tmp"
out=$(printf 'info status\nquit\n' | timeout -s KILL 120 "$qemu" -M pc -accel tcg -nodefaults \
	-display none -m 32 -S -monitor stdio 2>&1)
rc=$?
result "paused pc machine starts and quits (exit $rc)" "$rc"
case "$out" in
*"VM status: paused"*) ok "monitor answers info status" ;;
*) not_ok "monitor answers info status"; diag "$out" ;;
esac
done_testing
