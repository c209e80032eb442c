#!/bin/sh
# The known-good control for 04-migrate: the kernel's own migratable mdev sample,
# mtty (samples/vfio-mdev/mtty.c, built by scripts/mtty/build), live-migrated by
# the same QEMU, with the same capabilities (return-path, switchover-ack), in the
# same VM. If this passes and 04 fails, the bug is in mlx5vf, not in the VM,
# QEMU or the VFIO core.
# Two mtty-2 instances (two 16550 ports each); the source guest's UART state is
# set through HMP port I/O (scratch registers of both ports, two bytes in port
# 0's loop-back FIFO), the guest migrates, and the destination reads it back.
# mtty's dirty-logging ops are dummies and the stock kernel cannot report device
# dirty pages, so device dirty tracking is off (x-device-dirty-page-tracking=off).
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

if [ -z "${MTTY_KO:-}" ] || [ ! -f "$MTTY_KO" ]; then
	skip_all "no mtty.ko in this initramfs (scripts/mtty/build, then mkinitramfs --extra-ko)"
fi
if [ -z "${VM_QEMU:-}" ] || [ ! -x "$VM_QEMU" ]; then
	skip_all "no QEMU in this initramfs"
fi
# shellcheck source=qemu.sh
. "${TESTS_DIR:-$(dirname "$0")}/qemu.sh"

mark=$(dmesg_mark 06-mtty-control)
types=/sys/class/mdev_bus/mtty/mdev_supported_types
port=4460
u1="" u2=""

# The UART registers used here (offsets in a port's 8-byte I/O BAR).
UART_RX=0 UART_TX=0 UART_LSR=5 UART_SCR=7

# teardown: quit both QEMUs, remove the instances, unload mtty.
teardown() {
	qemu_stop src
	qemu_stop dst
	for _u in $u1 $u2; do
		[ ! -e "/sys/bus/mdev/devices/$_u" ] || echo 1 >"/sys/bus/mdev/devices/$_u/remove"
	done
	[ ! -d /sys/module/mtty ] || rmmod mtty
}
give_up() {
	diag "$@"
	teardown
	bail_out "$1"
}
show_qemu() { # NAME: its monitor log and stderr, for a failure
	diag "$1 monitor:" "$(tail -n 30 "$RUN/$1.log" | tr -d '\r')" "$1 stderr:" "$(cat "$RUN/$1.stderr")"
}
outb() { hmp "$1" "o /b $2 $3" >/dev/null; }  # NAME PORT VALUE
inb() { hmp "$1" "i /b $2" | sed -n 's/^port.*= *//p'; } # NAME PORT: prints 0xNN
hex() { printf '0x%02x' "$(($1))"; }
uuid() { cat /proc/sys/kernel/random/uuid; }
running() { hmp "$1" "info status" | grep -q 'VM status: running'; } # NAME
device() { # UUID: the -device string of an mtty instance
	echo "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$1,id=tty0,addr=0x5,enable-migration=on,x-device-dirty-page-tracking=off"
}

# --- mtty and two instances --------------------------------------------------
for d in $(modinfo -F depends "$MTTY_KO" | tr ',' ' '); do modprobe "$d"; done
check "mtty loads" insmod "$MTTY_KO"
[ -d "$types/mtty-2" ] || give_up "no $types/mtty-2 after loading mtty" "$(ls "$types" 2>&1)"
diag "mtty-2: $(cat "$types/mtty-2/name" 2>/dev/null), available_instances $(cat "$types/mtty-2/available_instances")"
u1=$(uuid)
u2=$(uuid)
check "two mtty-2 instances created" sh -c \
	"echo $u1 >$types/mtty-2/create && echo $u2 >$types/mtty-2/create && test -e /sys/bus/mdev/devices/$u1 && test -e /sys/bus/mdev/devices/$u2"
[ -e "/sys/bus/mdev/devices/$u2" ] || give_up "could not create the mtty instances"
diag "instances: $u1 (source), $u2 (destination)"

# --- the source guest and its UART state -------------------------------------
qemu_start_dev src "$(device "$u1")" || {
	show_qemu src
	give_up "source QEMU did not start"
}
ok "source QEMU runs with mtty instance $u1"
# SeaBIOS assigns the BARs; nested TCG makes that take a moment.
if ! wait_for 60 pci_io_bar src 5 0 || ! wait_for 10 pci_io_bar src 5 1; then
	diag "$(hmp src "info pci")"
	give_up "the source guest's firmware did not map the mtty BARs"
fi
p0=$(pci_io_bar src 5 0)
p1=$(pci_io_bar src 5 1)
ok "guest firmware mapped the two ports at $p0 and $p1"

# Values that differ from run to run and from the reset state (0).
scr0=$(hex "$$ % 254 + 1")
scr1=$(hex "$scr0 ^ 0xff")
tx1=0x48 tx2=0x49
outb src "$(hex "$p0 + $UART_SCR")" "$scr0"
outb src "$(hex "$p1 + $UART_SCR")" "$scr1"
outb src "$(hex "$p0 + $UART_TX")" "$tx1"
outb src "$(hex "$p0 + $UART_TX")" "$tx2"
got0=$(inb src "$(hex "$p0 + $UART_SCR")")
got1=$(inb src "$(hex "$p1 + $UART_SCR")")
lsr=$(inb src "$(hex "$p0 + $UART_LSR")")
result "source UART holds the state (SCR $got0/$got1, want $scr0/$scr1; LSR $lsr: data ready)" \
	"$([ "$((got0))" -eq "$((scr0))" ] && [ "$((got1))" -eq "$((scr1))" ] && [ $((lsr & 1)) -eq 1 ] 2>/dev/null; echo $?)"

# --- the migration ----------------------------------------------------------
qemu_start_dev dst "$(device "$u2")" -incoming defer || {
	show_qemu dst
	give_up "destination QEMU did not start"
}
mig_caps src
mig_caps dst
hmp dst "migrate_incoming tcp:127.0.0.1:$port" >/dev/null
hmp src "migrate -d tcp:127.0.0.1:$port" >/dev/null
status=$(migrate_wait src 120)
result "migration of the mtty guest completes (status: $status)" "$([ "$status" = completed ]; echo $?)"
if [ "$status" != completed ]; then
	show_qemu src
	show_qemu dst
	diag "$(dmesg_since "$mark" | tail -n 20)"
	give_up "the control migration failed: the VM, QEMU or the VFIO core is broken, not (only) mlx5vf"
fi
info=$(hmp src "info migrate")
diag "$(printf '%s\n' "$info" | grep -iE 'status|time|downtime|transferred|vfio' | head -n 14)"
check "destination guest runs" wait_for 20 running dst

# --- the state that arrived -------------------------------------------------
d0=$(pci_io_bar dst 5 0)
d1=$(pci_io_bar dst 5 1)
result "destination BARs at the source's addresses ($d0, $d1)" \
	"$([ "$d0" = "$p0" ] && [ "$d1" = "$p1" ]; echo $?)"
got0=$(inb dst "$(hex "$p0 + $UART_SCR")")
got1=$(inb dst "$(hex "$p1 + $UART_SCR")")
result "scratch registers arrived (port 0 $got0, port 1 $got1; sent $scr0, $scr1)" \
	"$([ -n "$got0" ] && [ -n "$got1" ] && [ "$((got0))" -eq "$((scr0))" ] && [ "$((got1))" -eq "$((scr1))" ]; echo $?)"
lsr=$(inb dst "$(hex "$p0 + $UART_LSR")")
rx1=$(inb dst "$(hex "$p0 + $UART_RX")")
rx2=$(inb dst "$(hex "$p0 + $UART_RX")")
lsr_after=$(inb dst "$(hex "$p0 + $UART_LSR")")
result "loop-back FIFO arrived (LSR $lsr, bytes $rx1 $rx2, then LSR $lsr_after; sent $tx1 $tx2)" \
	"$([ -n "$rx2" ] && [ $((lsr & 1)) -eq 1 ] && [ "$((rx1))" -eq "$((tx1))" ] && [ "$((rx2))" -eq "$((tx2))" ] && [ $((lsr_after & 1)) -eq 0 ]; echo $?)"

# --- teardown ---------------------------------------------------------------
qemu_stop src
qemu_stop dst
check "the mtty instances are removed" sh -c \
	"echo 1 >/sys/bus/mdev/devices/$u1/remove && echo 1 >/sys/bus/mdev/devices/$u2/remove"
check "mtty unloads" rmmod mtty
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN around the control migration"
done_testing
