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

# Sanitizer and coverage flags are not in KBUILD_CFLAGS: scripts/Makefile.lib adds
# them to each object's _c_flags, honouring <TOOL>_SANITIZE[_<obj>.o] := n. These
# are its clauses, verbatim but for the variable they feed, so that a C++ object gets
# what a C object of the same module gets, and opts out the same way. On a kernel
# without the option each clause is empty.
#  - KASAN (generic/sw-tags; hw-tags needs no compiler flags). The compiler also emits
#    one constructor/destructor pair per object registering its instrumented globals
#    (KASAN selects CONFIG_CONSTRUCTORS; the module loader runs .init_array):
#    scripts/cxx-gates accepts exactly those, and only in objects built with KASAN.
#  - KCOV: plain calls to __sanitizer_cov_trace_pc, no constructors.
#  - Not mirrored, so a C++ object stays uninstrumented for them: UBSAN (with GCC 12,
#    -fsanitize=bool leaves __patchable_function_entries pointing into discarded
#    COMDAT sections of inline functions and the module fails to link), KCSAN (its
#    per-object constructor calls __tsan_init, which the gates refuse), KMSAN (clang
#    only), GCOV (constructors and a runtime per object).
# (Recursive variable: target-stem and is-kernel-object expand per target.)
cxx-sanitizer-flags =
ifeq ($(CONFIG_KASAN),y)
ifneq ($(CONFIG_KASAN_HW_TAGS),y)
cxx-sanitizer-flags += $(if $(patsubst n%,, \
		$(KASAN_SANITIZE_$(target-stem).o)$(KASAN_SANITIZE)$(is-kernel-object)), \
		$(CFLAGS_KASAN), $(CFLAGS_KASAN_NOSANITIZE))
endif
endif
ifeq ($(CONFIG_KCOV),y)
cxx-sanitizer-flags += $(if $(patsubst n%,, \
	$(KCOV_INSTRUMENT_$(target-stem).o)$(KCOV_INSTRUMENT)$(if $(is-kernel-object),$(CONFIG_KCOV_INSTRUMENT_ALL))), \
	$(CFLAGS_KCOV))
endif

cxx-flags = -Wp,-MMD,$(depfile) -nostdinc -nostdinc++ \
	-isystem $(shell $(CXX_FOR_KERNEL) -print-file-name=include) \
	$(filter-out $(cxx-c-only-flags),$(KBUILD_CFLAGS)) $(cxx-sanitizer-flags) \
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

# A second module's own copy of a core object (kbuild refuses one object in two
# modules): src/sim/core/X.o, and in the KUnit build src/kunit-sim/X.o and
# (the emulated PF's test modules) src/kunit-emu/core/X.o and src/emu-vf/core/X.o,
# from src/core/X.cpp.
$(obj)/src/sim/core/%.o: $(src)/src/core/%.cpp FORCE
	$(call if_changed_dep,cxx_o_cpp)
$(obj)/src/kunit-sim/%.o: $(src)/src/core/%.cpp FORCE
	$(call if_changed_dep,cxx_o_cpp)
$(obj)/src/kunit-emu/core/%.o: $(src)/src/core/%.cpp FORCE
	$(call if_changed_dep,cxx_o_cpp)
$(obj)/src/emu-vf/core/%.o: $(src)/src/core/%.cpp FORCE
	$(call if_changed_dep,cxx_o_cpp)
