#!/bin/sh
# libvirt-managed live migration: two libvirt "hosts" in this one VM migrate a
# guest that owns a simulated VF (a managed PCI hostdev) and an mdev instance of
# mlx5vf_sim. Tested pairs (whichever the image packs, VM_LIBVIRT_VERSION):
#  - libvirt 11.3 from bookworm-backports with QEMU 10.0, on Debian's 6.12 and
#    6.1 kernels (scripts/vm/check-stock, check-6.1; the host's packages);
#  - libvirt 12.9 from trixie-backports with QEMU 11.1, on trixie-backports'
#    kernel 7.3 (scripts/vm/check-7.3; both from the trixie root).
#
# The two hosts are two libvirtd instances (Debian's 11.3 ships no virtqemud;
# 12.9 ships both, and the same monolithic libvirtd is used there; it needs
# neither systemd nor dbus), each in its own mount and UTS namespace: its own
# /etc/libvirt (host_uuid, qemu.conf, hooks), /run/libvirt (sockets, domain status), /var/lib/libvirt, /var/log/libvirt and hostname, so
# neither sees the other's domains and libvirt's "migrating to the same host"
# check (host UUIDs) passes honestly. They share the kernel, the network
# namespace, /tmp and /var/cache/libvirt (the QEMU capability cache: one QEMU
# binary, probed once by hostA, about 10 s under TCG; hostB starts after it
# and finds the cache valid). The migration is peer-to-peer
# (virsh migrate --live --p2p): virsh talks to the source daemon
# only, which opens qemu+unix:// to the destination daemon's socket and has QEMU
# stream over TCP on 127.0.0.1 (--migrateuri, --listen-address: qemu.conf refuses
# a local address for migration_host, which is meant for real hosts).
#
# The domain has no disk (SeaBIOS finds nothing to boot, like the other tests'
# guests). Its devices:
#  - <hostdev type='pci' managed='yes'> with <driver model='mlx5vf_sim'/>:
#    libvirt binds the VF to mlx5vf_sim through driver_override when the domain
#    starts (and gives it back when it stops). mlx5vf_sim has an empty ID table
#    on purpose, so libvirt's modules.alias lookup of a vfio_pci: alias (its
#    choice for managed hostdevs without a model) can never pick it: the model is
#    the honest way to name it. (mlx5vf.ko has the alias for 15b3:101e.)
#  - <hostdev type='mdev' model='vfio-pci'> with an instance's UUID; the
#    destination's XML (virsh migrate --xml) names its own instance and VF.
# <qemu:override> sets, on both, what qemu.sh's guests set: enable-migration=on
# (with QEMU's default "auto", a device without DMA logging, as on the stock
# kernel, blocks migration: libvirt then says "cannot migrate domain: ... VFIO
# device doesn't support device and IOMMU dirty tracking"), and x-no-mmap (the
# type1 container's dirty log refuses the VF's sub-page BAR mappings).
#
# The guest is defined (persistent) on hostA; the live migration leaves it
# paused on hostB (--suspend, as the other tests' destinations start with -S)
# until RAM is compared, then resumes it.
#
# Checks: libvirt binds the VF to mlx5vf_sim; a postcopy migration is refused
# with QEMU's message and the guest runs on; a destination whose instance has
# another firmware identity refuses the stream before the source pauses (the
# source never reaches stop-copy, the guest runs on); then the live migration
# completes, the guest exists only on the destination and runs there after
# resume, both devices' state arrived equal (saved == loaded checksums; the
# source VF's debugfs is snapshotted by the source's "stopped" hook, before
# libvirt unbinds it), guest RAM (file-backed, shared) on both sides is equal
# byte for byte while the mdev instance wrote guest memory during the
# migration, libvirt turned on return-path and switchover-ack on both sides,
# and `virsh domjobinfo --completed` counts the VFIO device data.
# No step has a time budget: migrations are watched for progress (domjobinfo).
# libvirt 11.3 and 12.9 (with QEMU 10.0 and 11.1) pass the same checks: no step
# depends on the version (12.9's virsh also lists no VFIO line in plain
# domjobinfo, QEMU 11.1 refuses postcopy with the same message, both libvirts
# set return-path and switchover-ack). A future version that differs gets an
# explicit, commented case on VM_LIBVIRT_VERSION / VM_QEMU_VERSION here.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
# shellcheck source=qemu.sh
. "${TESTS_DIR:-$(dirname "$0")}/qemu.sh"

[ -n "${VM_QEMU:-}" ] && [ -x "$VM_QEMU" ] || skip_all "no QEMU in this initramfs"
command -v libvirtd >/dev/null 2>&1 && command -v virsh >/dev/null 2>&1 ||
	skip_all "no libvirt in this initramfs"
mark=$(dmesg_mark 11-libvirt)
slow=${VMTEST_SLOW:-1}
LV=/tmp/lv
dom=lvguest
types=/sys/class/mlx5vf_sim/mlx5vf_sim/mdev_supported_types

# The users and groups libvirt resolves: the one it runs QEMU as (qemu.conf:
# root) and Debian's compiled-in defaults, resolved before qemu.conf is read.
for u in root:0 libvirt-qemu:64055 swtpm:64056; do
	grep -q "^${u%:*}:" /etc/passwd 2>/dev/null ||
		echo "${u%:*}:x:${u#*:}:${u#*:}::/root:/bin/sh" >>/etc/passwd
	grep -q "^${u%:*}:" /etc/group 2>/dev/null || echo "${u%:*}:x:${u#*:}:" >>/etc/group
done
grep -q '^kvm:' /etc/group || echo 'kvm:x:64057:' >>/etc/group
mkdir -p "$LV" /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
mount -t tmpfs tmpfs "$LV"

uri() { echo "qemu+unix:///system?socket=$LV/$1/run/libvirt-sock"; }
vsh() { # HOST ARGS...
	_h=$1
	shift
	virsh -q -c "$(uri "$_h")" "$@"
}

# lv_host NAME UUID PORT_MIN: a libvirtd with its own namespaces and directories.
lv_host() {
	_d=$LV/$1
	mkdir -p "$_d/etc/hooks" "$_d/run" "$_d/lib" "$LV/cache" "$_d/log" "$_d/snap"
	cat >"$_d/etc/libvirtd.conf" <<EOF
host_uuid = "$2"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
log_filters = "1:qemu.qemu_monitor 2:qemu.qemu_migration 2:qemu.qemu_process 2:util.pci 2:hypervisor.virhostdev 3:*"
EOF
	cat >"$_d/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
migration_port_min = $3
migration_port_max = $(($3 + 15))
EOF
	# The "stopped" hook runs after QEMU has gone and before libvirt gives the
	# VF back to the host (unbinding it from mlx5vf_sim removes its debugfs).
	cat >"$_d/etc/hooks/qemu" <<EOF
#!/bin/sh
[ "\$2" = stopped ] || exit 0
for f in /sys/kernel/debug/mlx5vf/*/migration; do
	d=\${f%/migration}
	cat "\$f" "\$d/sim" >"$_d/snap/\${d##*/}" 2>/dev/null
done
exit 0
EOF
	chmod 755 "$_d/etc/hooks/qemu"
	# shellcheck disable=SC2016 # expanded by the inner sh
	setsid unshare -m -u sh -c '
		d=$1
		mount --make-rprivate / 2>/dev/null
		mount --bind "$d/etc" /etc/libvirt && mount --bind "$d/run" /run/libvirt &&
			mount --bind "$d/lib" /var/lib/libvirt && mount --bind "$d/../cache" /var/cache/libvirt &&
			mount --bind "$d/log" /var/log/libvirt && hostname "$2" || exit 1
		exec libvirtd --pid-file "$d/libvirtd.pid"' sh "$_d" "$1" >"$_d/stderr" 2>&1 &
	echo $! >"$_d/pid"
}
lv_stop() {
	for _h in hostA hostB; do
		for _x in $(vsh "$_h" list --name 2>/dev/null); do vsh "$_h" destroy "$_x" >/dev/null 2>&1; done
		[ ! -f "$LV/$_h/pid" ] || kill "$(cat "$LV/$_h/pid")" 2>/dev/null
	done
}
lv_diag() { # HOST: its log's last lines and the domain's QEMU log
	diag "$1 libvirtd.log:" "$(grep -vE 'debug :' "$LV/$1/log/libvirtd.log" 2>/dev/null | tail -n 15)"
	diag "$1 QEMU log:" "$(tail -n 15 "$LV/$1/log/qemu/$dom.log" 2>/dev/null)"
	diag "$1 stderr:" "$(tail -n 5 "$LV/$1/stderr" 2>/dev/null)"
}

# domain_xml VF_BDF MDEV_UUID FW_LOG: the guest, with the VF and the instance, its
# firmware's debug port (SeaBIOS, 0x402) written to FW_LOG.
domain_xml() {
	_b=$1
	_dom=${_b%%:*} _rest=${_b#*:}
	_bus=${_rest%%:*} _rest=${_rest#*:}
	_slot=${_rest%%.*} _fn=${_rest#*.}
	cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$dom</name>
  <uuid>6c0e3a52-1d8e-4f3c-9a55-0d5b1c7e2a11</uuid>
  <memory unit='MiB'>16</memory>
  <vcpu>1</vcpu>
  <memoryBacking>
    <source type='file'/>
    <access mode='shared'/>
  </memoryBacking>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>$VM_QEMU</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver model='mlx5vf_sim'/>
      <source>
        <address domain='0x$_dom' bus='0x$_bus' slot='0x$_slot' function='0x$_fn'/>
      </source>
      <alias name='ua-vf'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </hostdev>
    <hostdev mode='subsystem' type='mdev' model='vfio-pci'>
      <source>
        <address uuid='$2'/>
      </source>
      <alias name='ua-mdev'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/>
    </hostdev>
  </devices>
  <qemu:override>
    <qemu:device alias='ua-vf'>
      <qemu:frontend>
        <qemu:property name='enable-migration' type='string' value='on'/>
        <qemu:property name='x-no-mmap' type='bool' value='true'/>
      </qemu:frontend>
    </qemu:device>
    <qemu:device alias='ua-mdev'>
      <qemu:frontend>
        <qemu:property name='enable-migration' type='string' value='on'/>
        <qemu:property name='x-no-mmap' type='bool' value='true'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>
  <qemu:commandline>
    <qemu:arg value='-chardev'/>
    <qemu:arg value='file,id=fwlog,path=$3'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='isa-debugcon,iobase=0x402,chardev=fwlog'/>
  </qemu:commandline>
</domain>
EOF
}

# migrate_watch OUT ARGS...: run `virsh migrate ARGS` on hostA in the background
# and wait for it; "stalled" (and the job aborted) once neither the job's state
# nor its processed bytes have moved for 120 s (times vmtest.slow: starting the
# destination's QEMU, before any byte moves, takes tens of seconds on a busy
# TCG host). Prints
# virsh's exit status, or "stalled"; its output goes to OUT.
migrate_watch() {
	_o=$1
	shift
	vsh hostA migrate "$@" --migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1 >"$_o" 2>&1 &
	_p=$!
	_mk="" _since=$(uptime_s)
	_beat=$_since
	while kill -0 "$_p" 2>/dev/null; do
		_now=$(uptime_s)
		_j=$(vsh hostA domjobinfo "$dom" 2>/dev/null | grep -E '^(Job type|Operation|Data processed|Memory processed):')
		if [ "$_j" != "$_mk" ]; then
			_mk=$_j
			_since=$_now
		elif [ $((_now - _since)) -ge $((120 * slow)) ]; then
			vsh hostA domjobabort "$dom" >/dev/null 2>&1
			sleep 5
			kill "$_p" 2>/dev/null
			echo stalled
			return 0
		fi
		if [ $((_now - _beat)) -ge 30 ]; then
			echo "# migrate_watch: $(printf '%s' "$_mk" | tr '\n' ',')" >&2
			_beat=$_now
		fi
		sleep 0.5
	done
	wait "$_p"
	echo $?
}

domstate() { vsh "$1" domstate "$dom" 2>/dev/null | head -n 1; }

# 0. Devices: two igb VFs left without a driver (libvirt binds them) and three
# mdev instances, the third with another firmware identity.
modprobe igb || bail_out "modprobe igb"
check "load mlx5vf and mlx5vf_sim" load_sim
pf=$(pci_find 0x8086 0x10c9 | head -n 1)
[ -n "$pf" ] || bail_out "no igb PF"
[ "$(cat "$pf/sriov_numvfs")" = 0 ] || echo 0 >"$pf/sriov_numvfs"
echo 2 >"$pf/sriov_numvfs" || bail_out "cannot create VFs"
vfa=$(readlink -f "$pf/virtfn0")
vfb=$(readlink -f "$pf/virtfn1")
bdfa=${vfa##*/} bdfb=${vfb##*/}
ok "two igb VFs for the hosts: $bdfa (A), $bdfb (B)"
mdev_new() {
	_u=$(cat /proc/sys/kernel/random/uuid)
	echo "$_u" >"$types/mlx5vf_sim-small/create" && echo "$_u"
}
ma=$(mdev_new) && mb=$(mdev_new) || bail_out "cannot create mdev instances"
echo 0x1234 >/sys/module/mlx5vf_sim/parameters/sim_identity
mc=$(mdev_new) || bail_out "cannot create the incompatible instance"
echo 0x53494d5646 >/sys/module/mlx5vf_sim/parameters/sim_identity
ok "mdev instances: $ma (A), $mb (B), $mc (B, another firmware identity)"

# 1. Two libvirt hosts.
t0=$(uptime_s)
lv_host hostA 1b5e7a10-0000-4000-8000-00000000000a 49152
# The image says which libvirt it packed (mkinitramfs: the host's 11.3, or the trixie
# root's 12.9 with QEMU 11.1): that one must be what runs.
lv_ver=$(libvirtd --version 2>&1)
result "libvirtd runs here ($lv_ver), the packed ${VM_LIBVIRT_VERSION:-?}" \
	"$(case "$lv_ver" in *" ${VM_LIBVIRT_VERSION:-?}") echo 0 ;; *) echo 1 ;; esac)"
# lv_wait HOST: until the daemon answers (its first answer waits for its QEMU
# capability probe, which takes a while under TCG); fails at once if the daemon
# died, or after 600 s (times vmtest.slow). A "# ..." line every 30 s.
lv_wait() {
	_t=$(uptime_s)
	_beat=$_t
	while ! timeout 20 virsh -q -c "$(uri "$1")" version >/dev/null 2>&1; do
		kill -0 "$(cat "$LV/$1/pid")" 2>/dev/null || return 1
		_now=$(uptime_s)
		[ $((_now - _t)) -lt $((600 * slow)) ] || return 1
		if [ $((_now - _beat)) -ge 30 ]; then
			echo "# waiting for libvirtd $1 ($((_now - _t)) s): $(tail -n 1 "$LV/$1/log/libvirtd.log" 2>/dev/null | cut -c 1-160)" >&2
			_beat=$_now
		fi
		sleep 1
	done
}
for h in hostA hostB; do
	[ "$h" = hostA ] || lv_host hostB 1b5e7a10-0000-4000-8000-00000000000b 49200
	if lv_wait "$h"; then
		ok "libvirtd $h answers on $(uri "$h") ($(vsh "$h" version 2>/dev/null | grep -i 'running hypervisor' | tr -s ' '))"
	else
		not_ok "libvirtd $h answers"
		lv_diag "$h"
		lv_stop
		bail_out "libvirtd $h did not come up"
	fi
done
diag "both daemons up and QEMU probed in $(($(uptime_s) - t0)) s"
ha=$(vsh hostA hostname 2>/dev/null) hb=$(vsh hostB hostname 2>/dev/null)
ua=$(vsh hostA capabilities 2>/dev/null | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' | head -n 1)
ub=$(vsh hostB capabilities 2>/dev/null | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' | head -n 1)
result "the hosts have distinct identities ($ha $ua, $hb $ub)" \
	"$([ -n "$ua" ] && [ "$ua" != "$ub" ] && [ "$ha" != "$hb" ]; echo $?)"

# 2. The guest starts on A; libvirt binds the VF to mlx5vf_sim.
domain_xml "$bdfa" "$ma" "$LV/fw-a.log" >"$LV/dom-a.xml"
domain_xml "$bdfb" "$mb" "$LV/fw-b.log" >"$LV/dom-b.xml"
domain_xml "$bdfb" "$mc" "$LV/fw-c.log" >"$LV/dom-c.xml"
check "the VF has no driver before the guest starts" test ! -e "$vfa/driver"
if out=$(vsh hostA define "$LV/dom-a.xml" 2>&1 && vsh hostA start "$dom" 2>&1); then
	ok "virsh define and start on hostA"
else
	not_ok "virsh define and start on hostA"
	diag "$out"
	lv_diag hostA
	lv_stop
	bail_out "the guest did not start"
fi
check "the guest runs on hostA" test "$(domstate hostA)" = running
# Migrate a guest whose firmware has placed its PCI BARs and finished (qemu.sh,
# guest_pci_ready, guest_firmware_done): the mdev's dirty log is precise, and a
# memory-map change after that would lose its pages (simulated-vf.rst).
pci_settled() {
	vsh hostA qemu-monitor-command "$dom" --hmp "info pci" 2>/dev/null | tr -d '\r' | pci_bars_placed all
}
check "the guest firmware placed every PCI BAR" wait_for 60 pci_settled
check "the guest firmware finished its POST (SeaBIOS's debug port)" wait_for 60 \
	grep -q "No bootable device" "$LV/fw-a.log"
check "libvirt bound $bdfa to mlx5vf_sim (driver_override '$(cat "$vfa/driver_override" 2>/dev/null)')" \
	bound_to "$vfa" mlx5vf_sim
check "the VF is RUNNING under QEMU" test "$(mig_field "$bdfa" state)" = RUNNING
check "the instance $ma is RUNNING under QEMU" test "$(mig_field "$ma" state)" = RUNNING
qcmd=$(cat "$LV/hostA/log/qemu/$dom.log" 2>/dev/null)
result "QEMU got vfio-pci for both (host=$bdfa, sysfsdev=.../$ma, enable-migration=on, x-no-mmap)" \
	"$(printf '%s' "$qcmd" | grep -q "\"host\":\"$bdfa\"" &&
		printf '%s' "$qcmd" | grep -q "\"sysfsdev\":\"/sys/bus/mdev/devices/$ma\"" &&
		printf '%s' "$qcmd" | grep -q '"enable-migration":"on","x-no-mmap":true'; echo $?)"
# Let precopy converge: the type1 container reports all of RAM dirty at every
# sync (no device dirty tracking on the stock kernel), as qemu.sh's mig_caps says.
check "migrate-setmaxdowntime 20000" vsh hostA migrate-setmaxdowntime "$dom" 20000

# 3. Postcopy is refused by QEMU; the guest runs on.
st=$(migrate_watch "$LV/postcopy.out" --live --p2p --postcopy "$dom" "$(uri hostB)" --xml "$LV/dom-b.xml")
out=$(cat "$LV/postcopy.out")
result "virsh migrate --live --postcopy is refused (exit $st)" "$([ "$st" != 0 ] && [ "$st" != stalled ]; echo $?)"
result "with QEMU's reason: $(printf '%s' "$out" | tr '\n' ' ' | cut -c 1-200)" \
	"$(printf '%s' "$out" | grep -q 'VFIO migration is not supported with postcopy migration'; echo $?)"
check "the guest still runs on hostA" test "$(domstate hostA)" = running
check "and not on hostB" sh -c "! virsh -q -c '$(uri hostB)' domstate $dom >/dev/null 2>&1"
if out=$(vsh hostA migrate-postcopy "$dom" 2>&1); then
	not_ok "virsh migrate-postcopy is refused (it was accepted: $out)"
else
	ok "virsh migrate-postcopy is refused: no postcopy migration to switch ($(printf '%s' "$out" | head -n 1))"
fi

# 4. An incompatible destination (its instance has another firmware identity) is
# refused before the source pauses.
before=$(mig_field "$ma" saved_checksum)
imark=$(dmesg_mark 11-incompatible)
st=$(migrate_watch "$LV/incompat.out" --live --p2p "$dom" "$(uri hostB)" --xml "$LV/dom-c.xml")
out=$(cat "$LV/incompat.out")
result "migration to the incompatible destination fails (exit $st: $(printf '%s' "$out" | tr '\n' ' ' | cut -c 1-160))" \
	"$([ "$st" != 0 ] && [ "$st" != stalled ]; echo $?)"
result "it failed before the source stopped (no stop-copy on $ma: saved checksum unchanged)" \
	"$([ "$(mig_field "$ma" saved_checksum)" = "$before" ]; echo $?)"
check "the destination's instance refused the stream's COMPAT record" \
	sh -c "dmesg | sed -n '/$imark/,\$p' | grep '$mc' | grep -q 'COMPAT refused'"
check "the guest still runs on hostA" test "$(domstate hostA)" = running
check "the source VF is back in RUNNING" wait_for $((10 * slow)) \
	sh -c "[ \"\$(sed -n 's/^state: //p' /sys/kernel/debug/mlx5vf/$bdfa/migration)\" = RUNNING ]"
check "the source instance is back in RUNNING" wait_for $((10 * slow)) \
	sh -c "[ \"\$(sed -n 's/^state: //p' /sys/kernel/debug/mlx5vf/$ma/migration)\" = RUNNING ]"
check "the guest is not on hostB" sh -c "! virsh -q -c '$(uri hostB)' domstate $dom >/dev/null 2>&1"

# 5. The live migration, while the instance writes guest memory (4 MiB at 4 MiB).
# The source's RAM file is held open so that it can be read after libvirt
# removes it; the destination stays paused (--suspend) until RAM is compared.
ram_a=$(ls "$LV"/hostA/lib/qemu/ram/*/pc.ram 2>/dev/null | head -n 1)
if [ -n "$ram_a" ]; then
	# shellcheck disable=SC2217 # sleep holds the file open, to read it later
	sleep 2147483647 <"$ram_a" &
	holder=$!
else
	holder=""
	diag "no RAM file under $LV/hostA/lib/qemu/ram: $(ls -R "$LV/hostA/lib/qemu" 2>&1 | head -n 10)"
fi
echo "4194304 4194304" >"/sys/kernel/debug/mlx5vf/$ma/dma_window"
check "the instance writes guest memory" wait_for $((20 * slow)) \
	sh -c "[ \$(sed -n 's/^dma_writes: //p' /sys/kernel/debug/mlx5vf/$ma/sim) -gt 100 ]"
writes0=$(mig_field "$ma" dma_writes)
# The daemons' logs from here on are this migration's (libvirtd appends).
: >"$LV/hostA/log/libvirtd.log"
: >"$LV/hostB/log/libvirtd.log"
t0=$(uptime_s)
st=$(migrate_watch "$LV/migrate.out" --live --p2p --suspend --verbose "$dom" "$(uri hostB)" --xml "$LV/dom-b.xml")
t1=$(uptime_s)
result "virsh migrate --live --p2p hostA -> hostB completes (exit $st, $((t1 - t0)) s)" "$([ "$st" = 0 ]; echo $?)"
if [ "$st" != 0 ]; then
	diag "$(cat "$LV/migrate.out")"
	lv_diag hostA
	lv_diag hostB
fi
echo "0 0" >"/sys/kernel/debug/mlx5vf/$ma/dma_window" 2>/dev/null
result "the instance wrote guest memory during the migration ($(($(mig_field "$ma" dma_writes) - writes0)) writes)" \
	"$([ $(($(mig_field "$ma" dma_writes) - writes0)) -gt 20 ]; echo $?)"
check "the guest no longer runs on hostA ($(domstate hostA))" wait_for $((30 * slow)) \
	sh -c "[ \"\$(virsh -q -c '$(uri hostA)' domstate $dom)\" = 'shut off' ]"
check "the guest is on hostB, paused (--suspend)" test "$(domstate hostB)" = paused
check "libvirt on hostB bound $bdfb to mlx5vf_sim" bound_to "$vfb" mlx5vf_sim
check "libvirt on hostA gave $bdfa back (unbound)" wait_for $((30 * slow)) test ! -e "$vfa/driver"
snap=$LV/hostA/snap/$bdfa
saved=$(sed -n 's/^saved_checksum: //p' "$snap" 2>/dev/null)
loaded=$(mig_field "$bdfb" loaded_checksum)
result "the VF's state arrived intact (saved $saved by $bdfa, loaded $loaded by $bdfb)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ] && [ "$saved" != 0000000000000000 ]; echo $?)"
saved=$(mig_field "$ma" saved_checksum)
loaded=$(mig_field "$mb" loaded_checksum)
result "the instance's state arrived intact (saved $saved by $ma, loaded $loaded by $mb)" \
	"$([ -n "$saved" ] && [ "$saved" = "$loaded" ] && [ "$saved" != 0000000000000000 ]; echo $?)"
ram_b=$(ls "$LV"/hostB/lib/qemu/ram/*/pc.ram 2>/dev/null | head -n 1)
if [ -n "$holder" ] && [ -n "$ram_b" ]; then
	src_sum=$(md5sum <"/proc/$holder/fd/0" | cut -d' ' -f1)
	dst_sum=$(md5sum <"$ram_b" | cut -d' ' -f1)
	result "guest RAM on hostB equals hostA's at switchover ($src_sum, $dst_sum)" \
		"$([ -n "$src_sum" ] && [ "$src_sum" = "$dst_sum" ]; echo $?)"
	[ "$src_sum" = "$dst_sum" ] || diag "pages that differ (4 KiB numbers, count):" \
		"$(cmp -l "/proc/$holder/fd/0" "$ram_b" | awk '{ print int(($1 - 1) / 4096) }' | uniq -c | head -n 20)"
	kill "$holder" 2>/dev/null
else
	not_ok "guest RAM on both hosts (source file ${ram_a:-missing}, destination ${ram_b:-missing})"
fi
# The migration capabilities libvirt gave QEMU on each side for this migration
# (its QMP commands are in its log; it resets them when the job ends).
for h in hostA hostB; do
	on=$(grep -o '"capability":"[a-z-]*","state":true' "$LV/$h/log/libvirtd.log" 2>/dev/null |
		sed 's/"capability":"\([a-z-]*\)".*/\1/' | sort -u | tr '\n' ' ')
	result "libvirt turned on return-path and switchover-ack on $h (capabilities set on: ${on:-none seen})" \
		"$(echo " $on" | grep -q ' return-path ' && echo " $on" | grep -q ' switchover-ack '; echo $?)"
done
sum_b=$(vsh hostB qemu-monitor-command "$dom" --hmp "pmemsave 0 16777216 \"$LV/pmem-b\"" >/dev/null 2>&1 &&
	md5sum <"$LV/pmem-b" | cut -d' ' -f1)
diag "pmemsave on hostB through virsh qemu-monitor-command --hmp: ${sum_b:-failed}"
# The source's QEMU counts the device data it sent; libvirt keeps the completed
# job's statistics with the (persistent, now inactive) domain there.
# (Reading completed statistics discards them unless told to keep them.)
info=$(vsh hostA domjobinfo "$dom" --completed --keep-completed 2>&1)
raw=$(vsh hostA domjobinfo "$dom" --completed --rawstats 2>&1)
diag "hostA: domjobinfo --completed:" "$info"
vfio=$(printf '%s\n' "$raw" | sed -n 's/^vfio_data_transferred[^0-9]*\([0-9][0-9]*\).*/\1/p')
mem=$(printf '%s\n' "$raw" | sed -n 's/^memory_processed[^0-9]*\([0-9][0-9]*\).*/\1/p')
result "domjobinfo --completed on hostA counts the VFIO device data (vfio_data_transferred ${vfio:-missing}, RAM ${mem:-?} bytes)" \
	"$([ -n "$vfio" ] && [ "$vfio" -gt 0 ]; echo $?)"
[ -n "$vfio" ] || diag "$raw"
check "virsh resume on hostB" vsh hostB resume "$dom"
check "the guest runs on hostB" test "$(domstate hostB)" = running
check "the destination VF is RUNNING" test "$(mig_field "$bdfb" state)" = RUNNING
check "the destination instance is RUNNING" test "$(mig_field "$mb" state)" = RUNNING

# 6. Done: destroy the guest (libvirt gives the VF back), stop both daemons.
check "virsh destroy on hostB" vsh hostB destroy "$dom"
check "libvirt on hostB gave $bdfb back" wait_for $((30 * slow)) test ! -e "$vfb/driver"
vsh hostA undefine "$dom" >/dev/null 2>&1
lv_stop
for u in "$ma" "$mb" "$mc"; do echo 1 >"/sys/bus/mdev/devices/$u/remove"; done
echo 0 >"$pf/sriov_numvfs"
unload_sim
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the test"
done_testing
