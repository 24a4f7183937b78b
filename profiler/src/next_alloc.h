// next_alloc.h -- the allocator (and libc functions) that come after us.
// Owns: THE list of interposed symbols (HS_INTERPOSED, one X-macro line each:
// field, symbol name, signature, required?), their dlsym(RTLD_NEXT)
// resolution into g_next, and the bootstrap pool that answers dlsym's own
// calloc/malloc while resolution runs.
// Safety: hook-safe. next_resolve() may run in any thread, before or after
// the constructor, as often as needed (idempotent stores). Pool blocks are
// never given to libc: free() ignores them, realloc() copies out of them.
// Pool exhaustion is one stderr line and _exit(127).
#pragma once
#include <new>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

namespace hs {
using StartMain = int (*)(int, char**, char**);
using MmapFn = void* (*)(void*, size_t, int, int, int, long);  // off_t is long on x86-64
using LibcStartMain = int (*)(StartMain, int, char**, void (*)(), void (*)(), void (*)(), void*);

// X(field, "symbol", type, required)
#define HS_INTERPOSED(X)                                                                      \
  X(malloc, "malloc", void* (*)(size_t), 1)                                                   \
  X(free, "free", void (*)(void*), 1)                                                         \
  X(calloc, "calloc", void* (*)(size_t, size_t), 1)                                           \
  X(realloc, "realloc", void* (*)(void*, size_t), 1)                                          \
  X(reallocarray, "reallocarray", void* (*)(void*, size_t, size_t), 0)                        \
  X(posix_memalign, "posix_memalign", int (*)(void**, size_t, size_t), 0)                     \
  X(aligned_alloc, "aligned_alloc", void* (*)(size_t, size_t), 0)                             \
  X(memalign, "memalign", void* (*)(size_t, size_t), 0)                                       \
  X(valloc, "valloc", void* (*)(size_t), 0)                                                   \
  X(pvalloc, "pvalloc", void* (*)(size_t), 0)                                                 \
  X(malloc_usable_size, "malloc_usable_size", size_t (*)(void*), 0)                           \
  X(free_sized, "free_sized", void (*)(void*, size_t), 0)                                     \
  X(free_aligned_sized, "free_aligned_sized", void (*)(void*, size_t, size_t), 0)             \
  X(nw, "_Znwm", void* (*)(size_t), 0)                                                        \
  X(na, "_Znam", void* (*)(size_t), 0)                                                        \
  X(nw_nt, "_ZnwmRKSt9nothrow_t", void* (*)(size_t, const std::nothrow_t&), 0)                \
  X(na_nt, "_ZnamRKSt9nothrow_t", void* (*)(size_t, const std::nothrow_t&), 0)                \
  X(nw_al, "_ZnwmSt11align_val_t", void* (*)(size_t, std::align_val_t), 0)                    \
  X(na_al, "_ZnamSt11align_val_t", void* (*)(size_t, std::align_val_t), 0)                    \
  X(nw_al_nt, "_ZnwmSt11align_val_tRKSt9nothrow_t",                                           \
    void* (*)(size_t, std::align_val_t, const std::nothrow_t&), 0)                            \
  X(na_al_nt, "_ZnamSt11align_val_tRKSt9nothrow_t",                                           \
    void* (*)(size_t, std::align_val_t, const std::nothrow_t&), 0)                            \
  X(dl, "_ZdlPv", void (*)(void*), 0)                                                         \
  X(da, "_ZdaPv", void (*)(void*), 0)                                                         \
  X(dl_sz, "_ZdlPvm", void (*)(void*, size_t), 0)                                             \
  X(da_sz, "_ZdaPvm", void (*)(void*, size_t), 0)                                             \
  X(dl_nt, "_ZdlPvRKSt9nothrow_t", void (*)(void*, const std::nothrow_t&), 0)                 \
  X(da_nt, "_ZdaPvRKSt9nothrow_t", void (*)(void*, const std::nothrow_t&), 0)                 \
  X(dl_al, "_ZdlPvSt11align_val_t", void (*)(void*, std::align_val_t), 0)                     \
  X(da_al, "_ZdaPvSt11align_val_t", void (*)(void*, std::align_val_t), 0)                     \
  X(dl_sz_al, "_ZdlPvmSt11align_val_t", void (*)(void*, size_t, std::align_val_t), 0)         \
  X(da_sz_al, "_ZdaPvmSt11align_val_t", void (*)(void*, size_t, std::align_val_t), 0)         \
  X(dl_al_nt, "_ZdlPvSt11align_val_tRKSt9nothrow_t",                                          \
    void (*)(void*, std::align_val_t, const std::nothrow_t&), 0)                              \
  X(da_al_nt, "_ZdaPvSt11align_val_tRKSt9nothrow_t",                                          \
    void (*)(void*, std::align_val_t, const std::nothrow_t&), 0)                              \
  X(dlclose, "dlclose", int (*)(void*), 0)                                                    \
  X(exit, "exit", void (*)(int), 0)                                                           \
  X(quick_exit, "quick_exit", void (*)(int), 0)                                               \
  X(libc_start_main, "__libc_start_main", LibcStartMain, 0)                                   \
  X(mmap, "mmap", MmapFn, 0)                                                                  \
  X(munmap, "munmap", int (*)(void*, size_t), 0)                                              \
  X(mremap, "mremap", void* (*)(void*, size_t, size_t, int, ...), 0)

template <class T>
using Id = T;

struct NextFns {
#define HS_FIELD(field, name, type, req) Id<type> field;
  HS_INTERPOSED(HS_FIELD)
#undef HS_FIELD
};
extern NextFns g_next;

// Resolves every g_next field (again); exits with a message when a required
// one is missing. Safe to call from a hook.
void next_resolve();
// Retries the C++ runtime symbols (libstdc++ may be loaded by dlopen later).
void next_resolve_cxx();

// Bootstrap pool (64 KiB).
void* pool_alloc(size_t size, size_t align);
size_t pool_block_size(const void* p);
extern char g_pool[];
constexpr size_t kPoolSize = 64 * 1024;
HS_INLINE bool pool_owns(const void* p) { return (uintptr_t)p - (uintptr_t)g_pool < kPoolSize; }
}  // namespace hs
