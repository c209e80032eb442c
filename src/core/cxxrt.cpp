// SPDX-License-Identifier: GPL-2.0-only
// The C++ runtime the kernel build needs, and nothing more. The core never
// uses bare new (kstd::make names an allocation context instead), but the
// compiler still references these: deleting destructors of classes with
// virtual destructors call operator delete, and an abstract class's vtable
// slots point at __cxa_pure_virtual. Linked only into the kernel module; host
// tests use the C++ runtime of the host.
#include <mlx5vf/abi.h>

#include "kstd/enforce.h"

void *operator new(size_t size) noexcept
{
	return mlx5vf_shim_alloc(size, MLX5VF_ALLOC_SLEEPABLE);
}
void *operator new[](size_t size) noexcept
{
	return mlx5vf_shim_alloc(size, MLX5VF_ALLOC_SLEEPABLE);
}
void operator delete(void *ptr) noexcept
{
	mlx5vf_shim_free(ptr);
}
void operator delete[](void *ptr) noexcept
{
	mlx5vf_shim_free(ptr);
}
void operator delete(void *ptr, size_t) noexcept
{
	mlx5vf_shim_free(ptr);
}
void operator delete[](void *ptr, size_t) noexcept
{
	mlx5vf_shim_free(ptr);
}

extern "C" void __cxa_pure_virtual();
extern "C" void __cxa_pure_virtual()
{
	// Only reachable through a virtual call on a half-built or half-
	// destroyed object; the core makes none. Report, and let the caller
	// carry on rather than crash the kernel.
	mlx5vf_shim_warn("pure virtual call");
}
