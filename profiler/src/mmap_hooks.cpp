// mmap_hooks.cpp -- mmap, mmap64, munmap and mremap (libheapscope.so only).
// Owns: the exported definitions of those four symbols. Without
// HEAPSCOPE_MMAP=1 each is one load of g_cfg.track_mmap and a forward to
// the next definition (g_next, next_alloc.h): nothing recorded, no lock.
// With it, the program's own calls are booked in the range book
// (mmap_book.h) as kind "mapped":
//   - anonymous mappings only (MAP_ANONYMOUS, private or shared); a file
//     mapping is not tracked, but one placed over a tracked range (MAP_FIXED)
//     ends that range's tracked bytes;
//   - calls made with the re-entry guard held are forwarded unrecorded: the
//     allocator's own mappings (jemalloc and tcmalloc call mmap through the
//     PLT from inside malloc, which we forward guarded) and heapscope's own;
//   - what does not come through the PLT is not seen at all: glibc's malloc
//     (its big-block mmaps and arena heaps call libc's internal __mmap),
//     pthread stacks (glibc's allocate_stack), the dynamic loader (dlopen),
//     and raw syscall(SYS_mmap). Those are not the program's own mappings.
// heapscope attach does not patch these symbols (profiler/src/attach): an
// attached process's mappings are not tracked.
// Safety: as hooks.cpp. errno and return values are the kernel's.
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "mmap_book.h"
#include "next_alloc.h"
#include "thread_state.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4  // Linux 5.7 (linux/mman.h); glibc 2.36 does not name it
#endif

using namespace hs;

#define HS_RA ((uintptr_t)__builtin_return_address(0))
#define HS_FP ((uintptr_t)__builtin_frame_address(0))

namespace {
// Whether this call is the program's own, to be booked.
HS_INLINE bool booking() {
  return HS_UNLIKELY(g_cfg.track_mmap) && !tls.guard && g_run_state.load(std::memory_order_relaxed) == kActive;
}

// The next definitions; the raw system call until they are resolved. Never
// next_resolve() from here: an allocator preloaded before us maps memory
// while it initializes, holding its init lock, and dlsym would call its
// calloc (rel_preload_orders: jemalloc first in LD_PRELOAD hung).
HS_INLINE void* next_mmap(void* a, size_t n, int prot, int flags, int fd, long off) {
  if (HS_UNLIKELY(!g_next.mmap)) return (void*)syscall(SYS_mmap, a, n, prot, flags, fd, off);
  return g_next.mmap(a, n, prot, flags, fd, off);
}
HS_INLINE int next_munmap(void* a, size_t n) {
  if (HS_UNLIKELY(!g_next.munmap)) return (int)syscall(SYS_munmap, a, n);
  return g_next.munmap(a, n);
}
HS_INLINE void* next_mremap(void* a, size_t n, size_t m, int flags, void* to) {
  if (HS_UNLIKELY(!g_next.mremap)) return (void*)syscall(SYS_mremap, a, n, m, flags, to);
  return g_next.mremap(a, n, m, flags, to);
}

HS_NOINLINE void* mmap_booked(void* a, size_t n, int prot, int flags, int fd, long off, uintptr_t ra, uintptr_t fp) {
  ThreadState& t = tls;
  ++t.guard;
  void* p = next_mmap(a, n, prot, flags, fd, off);
  --t.guard;
  if (p == MAP_FAILED) return p;
  if (flags & MAP_ANONYMOUS) {
    if (g_recording.load(std::memory_order_relaxed)) mapped_add(p, n, ra, fp);
  } else {  // a file mapping is not ours to count, but it ends what it lands on
    int saved = errno;
    MapPieces gone;
    mapped_take((uintptr_t)p, (uintptr_t)p + n, &gone);
    mapped_release(gone);
    errno = saved;
  }
  return p;
}
}  // namespace

extern "C" {
HS_EXPORT void* mmap(void* a, size_t n, int prot, int flags, int fd, off_t off) noexcept {
  if (HS_LIKELY(!booking())) return next_mmap(a, n, prot, flags, fd, off);
  return mmap_booked(a, n, prot, flags, fd, off, HS_RA, HS_FP);
}

// The same function on x86-64 (off_t is 64 bits); a program may name it.
HS_EXPORT void* mmap64(void* a, size_t n, int prot, int flags, int fd, off_t off) noexcept {
  if (HS_LIKELY(!booking())) return next_mmap(a, n, prot, flags, fd, off);
  return mmap_booked(a, n, prot, flags, fd, off, HS_RA, HS_FP);
}

HS_EXPORT int munmap(void* a, size_t n) noexcept {
  if (HS_LIKELY(!booking())) return next_munmap(a, n);
  ThreadState& t = tls;
  // Out of the book before the kernel frees the range (another thread may
  // map the same address at once); back in if the munmap fails.
  MapPieces taken;
  mapped_take((uintptr_t)a, (uintptr_t)a + n, &taken);
  ++t.guard;
  int rc = next_munmap(a, n);
  --t.guard;
  int saved = errno;
  if (rc != 0) mapped_restore(taken);
  else mapped_release(taken);
  errno = saved;
  return rc;
}

HS_EXPORT void* mremap(void* a, size_t n, size_t m, int flags, ...) noexcept {
  void* to = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    to = va_arg(ap, void*);
    va_end(ap);
  }
  if (HS_LIKELY(!booking())) return next_mremap(a, n, m, flags, to);
  ThreadState& t = tls;
  // old_size 0 (a shared mapping duplicated): the old range stays as it is.
  uint32_t dup_ref = n == 0 ? mapped_ref_at((uintptr_t)a) : UINT32_MAX;
  MapPieces taken;
  taken.n = 0;
  if (n) mapped_take((uintptr_t)a, (uintptr_t)a + n, &taken);
  ++t.guard;
  void* q = next_mremap(a, n, m, flags, to);
  --t.guard;
  int saved = errno;
  if (q == MAP_FAILED) mapped_restore(taken);
  else if (n == 0 && dup_ref != UINT32_MAX) mapped_add_ref((uintptr_t)q, m, dup_ref);
  else mapped_moved(taken, (uintptr_t)q, m, (flags & MREMAP_DONTUNMAP) != 0);
  errno = saved;
  return q;
}
}  // extern "C"
