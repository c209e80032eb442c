#!/bin/sh
# shellcheck disable=SC2154 # uapi_vfs (lib.sh) sets pf, vf0, vf1, bdf0 and bdf1
# The VFIO migration uAPI of mlx5vf, driven by tools/mlx5vf-mig (shipped in
# /usr/local/bin by mkinitramfs --tools): two igb VFs bound to mlx5vf_sim,
# every arc from every state, saves and loads between the two VFs with odd
# write segmentation, hostile streams, data_fd races, precopy accounting and
# PRECOPY_INFOv2: a VF reconfigured during precopy (debugfs "reconfigure")
# reports REINIT only after the opt-in, and its new state arrives intact.
# Three passes reload the module with different simulated VFs (see below).
# The client's TAP is relayed line by line into this test's own numbering,
# plus one line per pass for the client's exit status and plan.
# shellcheck source=lib.sh
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

ko=${MLX5VF_KO:-/lib/mlx5vf/mlx5vf.ko}
client=$(command -v mlx5vf-mig) || skip_all "mlx5vf-mig not in the initramfs (mkinitramfs --tools build/tools)"
[ -f "$ko" ] || bail_out "$ko is not in the initramfs"

# Pass 1: the default 1 MiB simulated state (a stop-copy image is one FW_DATA
# record). Pass 2: 9 MiB, over the driver's 8 MiB save buffer, so images come
# in chunks (several FW_DATA records, two buffers in flight), and a 16 MiB
# image ceiling (max_image_mib) the hostile suite probes. Pass 3: 9 MiB
# and a SAVE that takes a second, so readers block and poll waits. A 1-byte
# write costs ~2 us under TCG and ~40 us under KASAN: pass 1 writes its whole
# stream a byte at a time, pass 2 only around every edge (cuts_bytewise).
big_kib=9216

mark=$(dmesg_mark 05-uapi)
uapi_vfs

if check "pass 1: bind $bdf0 and $bdf1 to mlx5vf_sim" bind_vfs; then
	run_client "pass 1 (1 MiB state)" --src "$bdf0" --dst "$bdf1" all
fi
check "pass 1: unbind both VFs, rmmod mlx5vf_sim and mlx5vf" unbind_vfs

if check "pass 2: rebind with sim_state_kib=$big_kib max_image_mib=16" \
	bind_vfs sim_state_kib=$big_kib max_image_mib=16; then
	run_client "pass 2 (chunked images)" --src "$bdf0" --dst "$bdf1" migrate hostile races precopy multifd reinit
fi
check "pass 2: unbind both VFs, rmmod mlx5vf_sim and mlx5vf" unbind_vfs

if check "pass 3: rebind with sim_state_kib=$big_kib sim_latency_us=1000000" \
	bind_vfs sim_state_kib=$big_kib sim_latency_us=1000000; then
	run_client "pass 3 (slow SAVE)" --src "$bdf0" slow
fi
check "pass 3: unbind both VFs, rmmod mlx5vf_sim and mlx5vf" unbind_vfs

for vf in "$vf0" "$vf1"; do echo >"$vf/driver_override"; done
check "disable VFs" sh -c "echo 0 > $pf/sriov_numvfs"
check_dmesg_clean "$mark" "no WARNING/BUG/Call Trace/lockdep/KASAN during the test"
done_testing
