# SPDX-License-Identifier: GPL-2.0-only
# mlx5vf: the user interface. `make help` lists the targets.

SHELL := /bin/bash
top := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
include $(top)/scripts/versions.env
-include $(top)/build/versions.lock

# Kernel build tree: the running kernel's when it has one, else the pinned
# Debian 6.12 headers that scripts/setup installs.
running_kdir := /lib/modules/$(shell uname -r)/build
debian_kdir := /usr/src/linux-headers-$(or $(KERNEL_RELEASE),$(KERNEL_ABI)-$(KERNEL_FLAVOUR))
KDIR ?= $(if $(wildcard $(running_kdir)/Makefile),$(running_kdir),$(debian_kdir))
# Extra kbuild arguments (the checks pass W=1).
KBUILD_ARGS ?=
# What KDIR's kernel offers (scripts/kernel-probes), one directory per build tree.
probes := $(top)/build/probes/$(subst /,_,$(abspath $(KDIR)))

.PHONY: all module setup check check-host check-module check-deb check-kunit check-vm check-vm-6.1 check-vm-7.3 check-vm-qemu11 check-vm-debug demo bench deb \
	install clean distclean help print-kdir tools

all: module

help:
	@echo "make              build mlx5vf.ko and mlx5vf_sim.ko against KDIR=$(KDIR)"
	@echo "make demo         set up what is missing, boot the test VM, show the module at work"
	@echo "make check        every test level (host module deb kunit vm vm-6.1 vm-debug); ends 'N passed, N failed'"
	@echo "make check-host | check-module | check-kunit | check-vm   one level each"
	@echo "make check-vm-6.1     the VM suite on Debian 12's default kernel, 6.1"
	@echo "make check-vm-7.3     the VM suite on trixie-backports' kernel 7.3 with QEMU 11.1"
	@echo "make check-vm-qemu11  the QEMU migration tests on the stock 6.12 kernel with QEMU 11.1"
	@echo "make check-vm-debug   the VM suite and the KUnit suites on a KASAN/lockdep/kmemleak/IOMMUFD kernel built here"
	@echo "make bench        benchmarks, as ratios against a same-run baseline"
	@echo "make install      install for the running kernel (or KDIR), then depmod"
	@echo "make deb          the DKMS package, build/deb/mlx5vf-dkms_<version>_all.deb"

setup:
	$(top)/scripts/setup

# The module, then the C++ build gates. Any compiler or objtool warning fails.
module:
	@test -f $(KDIR)/Makefile || { echo "no kernel build tree at $(KDIR): run scripts/setup or pass KDIR=" >&2; exit 1; }
	@mkdir -p $(top)/build
	@$(top)/scripts/kernel-probes $(KDIR) $(probes)
	@set -o pipefail; $(MAKE) -C $(KDIR) M=$(top) MLX5VF_PROBES=$(probes) $(KBUILD_ARGS) modules 2>&1 | tee $(top)/build/kbuild.log
	@if grep -Ei 'warning:|objtool:' $(top)/build/kbuild.log; then \
		echo "build: warnings are errors in mlx5vf (see above)" >&2; exit 1; fi
	@$(top)/scripts/cxx-gates $(top) mlx5vf
	@$(top)/scripts/cxx-gates $(top) mlx5vf_sim
	@if [ "$(MLX5VF_KUNIT)" = 1 ]; then $(top)/scripts/cxx-gates $(top) mlx5vf_mlx5_emu_test; fi

check:
	@$(top)/scripts/check all

check-host check-module check-deb check-kunit check-vm check-vm-6.1 check-vm-7.3 check-vm-qemu11 check-vm-debug:
	@$(top)/scripts/check $(patsubst check-%,%,$@)

demo:
	@$(top)/scripts/demo

tools:
	$(MAKE) -C $(top)/tools

deb:
	@$(top)/scripts/mkdeb

bench:
	@$(top)/scripts/bench

# depmod for the release the module was built for: the build tree knows it,
# whatever its path (/lib/modules/R/build, /usr/src/linux-headers-R, a kernel tree).
install: module
	$(MAKE) -C $(KDIR) M=$(top) MLX5VF_PROBES=$(probes) modules_install
	depmod -a "$$($(MAKE) -s --no-print-directory -C $(KDIR) kernelrelease)"

# clean: build products. distclean: also the caches that take minutes to
# rebuild (the KUnit UML tree, the debug kernel, extracted sources).
clean:
	-$(MAKE) -C $(KDIR) M=$(top) clean 2>/dev/null
	rm -rf $(top)/build/host $(top)/build/host-clang $(top)/build/deb $(top)/build/bench $(top)/build/vm $(top)/build/check $(top)/build/tools

distclean: clean
	rm -rf $(top)/build

print-kdir:
	@echo $(KDIR)
