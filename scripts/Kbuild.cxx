# SPDX-License-Identifier: GPL-2.0-only
# Kbuild rule for the C++ core. Included by the module's Kbuild and by the
# KUnit overlay, so one rule serves every target kernel, UML included.
#
# Flags are the target kernel's own KBUILD_CFLAGS (code model, retpoline,
# rethunk, IBT, stack protector, padding: whatever this kernel was built with)
# minus the options g++ rejects as C-only, plus the freestanding C++ set.
# Nothing ABI-relevant is hand-written here.

# The C++ compiler of the kernel's compiler family and version.
ifdef CONFIG_CC_IS_CLANG
CXX_FOR_KERNEL ?= $(subst clang,clang++,$(CC))
else
CXX_FOR_KERNEL ?= $(subst gcc,g++,$(CC))
endif

cxx-c-only-flags := -std=gnu11 -std=gnu89 -Wmissing-prototypes -Wno-pointer-sign \
	-Wno-override-init -Wstrict-prototypes -Wdeclaration-after-statement \
	-Wold-style-definition -Wnested-externs -Wmissing-parameter-type \
	-Wimplicit-int -Werror=implicit-int -Werror=implicit-function-declaration \
	-Werror=strict-prototypes -Wno-old-style-declaration -Werror=incompatible-pointer-types \
	-Werror=designated-init -Wold-style-declaration

# pahole (module BTF) cannot encode C++ DWARF and fails the whole .ko, so the
# C++ objects carry no DWARF; their symbols and ORC data still give clean
# stack traces. BTF describes the C shim's types, which is what BPF needs.
cxx-debug-flags := -g0

cxx-flags = -Wp,-MMD,$(depfile) -nostdinc -nostdinc++ \
	-isystem $(shell $(CXX_FOR_KERNEL) -print-file-name=include) \
	$(filter-out $(cxx-c-only-flags),$(KBUILD_CFLAGS)) \
	-std=gnu++20 -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics \
	-fno-use-cxa-atexit -fno-asynchronous-unwind-tables -fno-unwind-tables \
	$(cxx-debug-flags) \
	-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror \
	-I$(src)/include -I$(src)/src/core \
	-DKBUILD_MODNAME='"$(modname)"' -DKBUILD_BASENAME='"$(basetarget)"'

quiet_cmd_cxx_o_cpp = CXX [M]  $@
      cmd_cxx_o_cpp = $(CXX_FOR_KERNEL) $(cxx-flags) -c -o $@ $< $(cmd_objtool)

$(obj)/%.o: $(src)/%.cpp FORCE
	$(call if_changed_dep,cxx_o_cpp)
