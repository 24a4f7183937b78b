// hooks.cpp -- the interposed allocation entry points (libheapscope.so only).
// Owns: the exported definitions of every symbol in HS_INTERPOSED
// (next_alloc.h), each forwarding to g_next and reporting to record.h; the
// library constructor and destructor.
// Safety: every hook is reentrant and async-signal-unsafe exactly where the
// function it forwards to is. Rules kept by every hook:
//   - with the re-entry guard held (heapscope itself, or a forward in
//     progress) it only forwards; forwards are made with the guard held so a
//     next operator new calling malloc is not counted twice;
//   - a free is recorded BEFORE it is forwarded: once the block is back in the
//     allocator another thread may receive the same address and insert it,
//     and erasing afterwards would erase that thread's entry;
//   - no guard is held across a call that may throw (operator new's
//     out-of-memory path), because -fno-exceptions frames run no destructors;
//   - return values and errno are those of the next allocator;
//   - the last thing a hook does is serve_if_poked(): a snapshot request that
//     interrupted it (no helper thread) is written at its end, before any
//     later operation is applied (control.cpp, serve_in_handler).
#include <dlfcn.h>
#include <errno.h>
#include <new>
#include <string.h>

#include "attach/attach.h"
#include "common.h"
#include "control.h"
#include "log.h"
#include "next_alloc.h"
#include "record.h"
#include "thread_state.h"

using namespace hs;

#define HS_RA ((uintptr_t)__builtin_return_address(0))
#define HS_FP ((uintptr_t)__builtin_frame_address(0))  // the library keeps frame pointers

namespace {
// True when the next operator new/delete are libstdc++'s, which are plain
// malloc/free (plus the new-handler loop on failure): then the hooks call
// malloc/free directly and skip two indirections.
bool g_cxx_is_libstdcxx = false;
bool g_cxx_checked = false;

HS_NOINLINE void check_cxx() {
  if (!g_next.malloc) next_resolve();
  if (!g_next.nw || !g_next.dl) next_resolve_cxx();
  Dl_info info;
  if (g_next.nw && dladdr((void*)g_next.nw, &info) && info.dli_fname && strstr(info.dli_fname, "libstdc++"))
    g_cxx_is_libstdcxx = true;
  g_cxx_checked = true;
}

HS_INLINE void ensure_cxx() {
  if (HS_UNLIKELY(!g_cxx_checked)) check_cxx();
}

[[noreturn]] HS_NOINLINE void no_cxx_runtime(const char* what) {
  log_line("%s: no C++ runtime operator found after heapscope and the allocation failed; aborting", what);
  __builtin_trap();
}

// Memory for a hook called while next_resolve() runs (dlsym's own calloc).
HS_NOINLINE void* bootstrap_alloc(size_t n, size_t align) { return pool_alloc(n, align); }

HS_NOINLINE void* realloc_from_pool(void* p, size_t n);
}  // namespace

extern "C" {
HS_EXPORT void* malloc(size_t n) noexcept {
  ThreadState& t = tls;
  if (HS_UNLIKELY(t.guard)) return t.resolving || !g_next.malloc ? bootstrap_alloc(n, 16) : g_next.malloc(n);
  if (HS_UNLIKELY(!g_next.malloc)) next_resolve();
  ++t.guard;
  void* p = g_next.malloc(n);
  --t.guard;
  if (HS_LIKELY(p)) record_alloc(p, n, HS_RA, HS_FP);
  serve_if_poked();
  return p;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
void* hs_own_malloc(size_t) noexcept __attribute__((alias("malloc"), visibility("hidden")));
#pragma GCC diagnostic pop

HS_EXPORT void free(void* p) noexcept {
  if (HS_UNLIKELY(!p)) return;
  if (HS_UNLIKELY(pool_owns(p))) return;  // bootstrap blocks never reach libc
  ThreadState& t = tls;
  if (HS_UNLIKELY(!g_next.free)) {
    if (t.resolving) return;  // a block dlsym freed mid-resolution: leak it rather than guess
    next_resolve();
  }
  if (HS_LIKELY(!t.guard)) record_free(p);  // before forwarding: see the file comment
  ++t.guard;
  g_next.free(p);
  --t.guard;
  serve_if_poked();
}

HS_EXPORT void* calloc(size_t n, size_t m) noexcept {
  ThreadState& t = tls;
  if (HS_UNLIKELY(t.guard || !g_next.calloc)) {
    if (t.resolving || (t.guard && !g_next.calloc)) {  // dlsym's own calloc: the bootstrap pool
      size_t total;
      if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return nullptr;
      }
      return bootstrap_alloc(total, 16);  // the pool is static, hence zeroed, and never reused
    }
    if (t.guard) return g_next.calloc(n, m);
    next_resolve();
  }
  ++t.guard;
  void* p = g_next.calloc(n, m);  // overflow: NULL + ENOMEM from libc, nothing recorded
  --t.guard;
  if (HS_LIKELY(p)) record_alloc(p, n * m, HS_RA, HS_FP);
  serve_if_poked();
  return p;
}

static HS_INLINE void* realloc_impl(void* p, size_t n, uintptr_t ra, uintptr_t fp) {
  ThreadState& t = tls;
  if (HS_UNLIKELY(pool_owns(p))) return realloc_from_pool(p, n);
  if (HS_UNLIKELY(t.guard)) return t.resolving || !g_next.realloc ? bootstrap_alloc(n, 16) : g_next.realloc(p, n);
  if (HS_UNLIKELY(!g_next.realloc)) next_resolve();
  if (!p) {  // realloc(NULL, n) is malloc(n)
    ++t.guard;
    void* q = g_next.realloc(nullptr, n);
    --t.guard;
    if (q) record_alloc(q, n, ra, fp);
    serve_if_poked();
    return q;
  }
  // Take p out of the books before forwarding (its address may be reused the
  // moment realloc frees it); put it back if the realloc fails.
  Taken old = record_take(p);
  ++t.guard;
  void* q = g_next.realloc(p, n);
  --t.guard;
  if (!q) {
    int saved = errno;
    if (n != 0) record_put_back(p, old);  // a failed grow: p is still live
    else record_release(old);             // glibc: realloc(p, 0) freed p and returned NULL
    errno = saved;
    serve_if_poked();
    return nullptr;
  }
  record_release(old);
  record_alloc(q, n, ra, fp);
  serve_if_poked();
  return q;
}

HS_EXPORT void* realloc(void* p, size_t n) noexcept { return realloc_impl(p, n, HS_RA, HS_FP); }

HS_EXPORT void* reallocarray(void* p, size_t n, size_t m) noexcept {
  size_t total;
  if (__builtin_mul_overflow(n, m, &total)) {  // as glibc: NULL + ENOMEM, p untouched
    errno = ENOMEM;
    return nullptr;
  }
  return realloc_impl(p, total, HS_RA, HS_FP);
}

HS_EXPORT int posix_memalign(void** out, size_t align, size_t n) noexcept {
  ThreadState& t = tls;
  if (HS_UNLIKELY(!g_next.posix_memalign)) {
    if (t.resolving) {
      *out = bootstrap_alloc(n, align);
      return 0;
    }
    next_resolve();
    if (!g_next.posix_memalign) return ENOMEM;
  }
  if (t.guard) return g_next.posix_memalign(out, align, n);
  ++t.guard;
  int rc = g_next.posix_memalign(out, align, n);
  --t.guard;
  if (rc == 0) record_alloc(*out, n, HS_RA, HS_FP);
  serve_if_poked();
  return rc;
}

// aligned_alloc, memalign, valloc, pvalloc: forward, record successes only.
#define HS_ALIGNED_HOOK(name, params, args, size_expr, align_expr)      \
  HS_EXPORT void* name params noexcept {                                \
    ThreadState& t = tls;                                               \
    if (HS_UNLIKELY(!g_next.name)) {                                    \
      if (t.resolving) return bootstrap_alloc(size_expr, align_expr);   \
      next_resolve();                                                   \
      if (!g_next.name) {                                               \
        errno = ENOMEM;                                                 \
        return nullptr;                                                 \
      }                                                                 \
    }                                                                   \
    if (t.guard) return g_next.name args;                               \
    ++t.guard;                                                          \
    void* p = g_next.name args;                                         \
    --t.guard;                                                          \
    if (p) record_alloc(p, size_expr, HS_RA, HS_FP);                    \
    serve_if_poked();                                                   \
    return p;                                                           \
  }
HS_ALIGNED_HOOK(aligned_alloc, (size_t align, size_t n), (align, n), n, align)
HS_ALIGNED_HOOK(memalign, (size_t align, size_t n), (align, n), n, align)
HS_ALIGNED_HOOK(valloc, (size_t n), (n), n, 4096)
HS_ALIGNED_HOOK(pvalloc, (size_t n), (n), n, 4096)
#undef HS_ALIGNED_HOOK

HS_EXPORT size_t malloc_usable_size(void* p) noexcept {
  if (!p) return 0;
  if (pool_owns(p)) return pool_block_size(p);
  if (HS_UNLIKELY(!g_next.malloc_usable_size)) {
    next_resolve();
    if (!g_next.malloc_usable_size) return 0;
  }
  return g_next.malloc_usable_size(p);  // we add no headers: the answer stays true
}

static HS_INLINE void free_then(void* p) {
  ThreadState& t = tls;
  if (HS_UNLIKELY(!g_next.free)) next_resolve();
  if (HS_LIKELY(!t.guard)) record_free(p);  // before forwarding: see the file comment
}

HS_EXPORT void free_sized(void* p, size_t n) noexcept {
  if (!p || pool_owns(p)) return;
  free_then(p);
  ++tls.guard;
  if (g_next.free_sized) g_next.free_sized(p, n);
  else g_next.free(p);
  --tls.guard;
  serve_if_poked();
}

HS_EXPORT void free_aligned_sized(void* p, size_t align, size_t n) noexcept {
  if (!p || pool_owns(p)) return;
  free_then(p);
  ++tls.guard;
  if (g_next.free_aligned_sized) g_next.free_aligned_sized(p, align, n);
  else g_next.free(p);
  --tls.guard;
  serve_if_poked();
}

HS_EXPORT int dlclose(void* handle) {
  if (HS_UNLIKELY(!g_next.dlclose)) next_resolve();
  if (!tls.guard) control_before_dlclose();  // keep the module's path and build-id
  int rc = g_next.dlclose(handle);           // unguarded: library destructors run here
  control_after_dlclose();
  return rc;
}

// Not allocation functions: the program's first thread is when heapscope
// starts its helper thread (control.h); until then glibc runs single-threaded.
// (glibc's own threads - SIGEV_THREAD timers, aio, mq_notify - pass neither;
// without a helper, requests are served at the next allocation.)
HS_EXPORT int pthread_create(pthread_t* th, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  if (!tls.guard) control_before_thread_create();
  PthreadCreateFn next = next_pthread_create();
  return next ? next(th, attr, fn, arg) : EAGAIN;
}
// C11 threads: glibc's thrd_create does not call pthread_create through the PLT.
HS_EXPORT int thrd_create(void* thr, int (*fn)(void*), void* arg) {
  if (!tls.guard) control_before_thread_create();
  ThrdCreateFn next = next_thrd_create();
  return next ? next(thr, fn, arg) : 2 /* thrd_error */;
}

HS_EXPORT [[noreturn]] void exit(int status) noexcept {
  control_exit_snapshot();  // before static destructors run
  if (!g_next.exit) next_resolve();
  g_next.exit(status);
  __builtin_unreachable();
}

HS_EXPORT [[noreturn]] void quick_exit(int status) noexcept {
  control_exit_snapshot();
  if (!g_next.quick_exit) next_resolve();
  g_next.quick_exit(status);
  __builtin_unreachable();
}

static StartMain g_real_main;
static int main_then_exit_snapshot(int argc, char** argv, char** envp) {
  int rc = g_real_main(argc, argv, envp);
  control_exit_snapshot();  // main returned: before exit() runs static destructors
  return rc;
}

HS_EXPORT int __libc_start_main(StartMain main_fn, int argc, char** argv, void (*init)(), void (*fini)(),
                                void (*rtld_fini)(), void* stack_end) {
  if (!g_next.libc_start_main) next_resolve();
  g_real_main = main_fn;
  return g_next.libc_start_main(main_then_exit_snapshot, argc, argv, init, fini, rtld_fini, stack_end);
}
}  // extern "C"

namespace {
void* realloc_from_pool(void* p, size_t n) {
  size_t old = pool_block_size(p);
  if (n == 0) return nullptr;  // glibc semantics: "freed" (pool blocks are never reused)
  void* q = tls.resolving ? bootstrap_alloc(n, 16) : malloc(n);
  if (q) memcpy(q, p, old < n ? old : n);
  return q;
}

// ---- operator new / delete -------------------------------------------------
// First attempt: the next nothrow form (or malloc when that is libstdc++'s),
// guarded. On failure: the next throwing form, unguarded, so the new-handler
// loop and bad_alloc behave exactly as without heapscope.
template <class TryFn, class ThrowFn>
HS_INLINE void* new_impl(size_t n, uintptr_t ra, uintptr_t fp, TryFn try_alloc, ThrowFn throw_alloc) {
  ThreadState& t = tls;
  ensure_cxx();
  if (HS_UNLIKELY(t.guard)) return throw_alloc();
  ++t.guard;
  void* p = try_alloc();
  --t.guard;
  if (HS_LIKELY(p)) {
    record_alloc(p, n, ra, fp);
    serve_if_poked();
    return p;
  }
  return throw_alloc();
}

template <class TryFn>
HS_INLINE void* new_nothrow_impl(size_t n, uintptr_t ra, uintptr_t fp, TryFn try_alloc) {
  ThreadState& t = tls;
  ensure_cxx();
  if (HS_UNLIKELY(t.guard)) return try_alloc();
  ++t.guard;
  void* p = try_alloc();
  --t.guard;
  if (HS_LIKELY(p)) record_alloc(p, n, ra, fp);
  serve_if_poked();
  return p;
}

template <class DelFn>
HS_INLINE void delete_impl(void* p, DelFn del) {
  if (HS_UNLIKELY(!p)) return;
  ThreadState& t = tls;
  ensure_cxx();
  if (HS_LIKELY(!t.guard)) record_free(p);  // before forwarding: see the file comment
  ++t.guard;
  del();
  --t.guard;
  serve_if_poked();
}

inline size_t nz(size_t n) { return n ? n : 1; }
// Our own nothrow tag: std::nothrow lives in libstdc++, which C programs lack.
const std::nothrow_t kNothrow{};
}  // namespace


HS_EXPORT void* operator new(size_t n) {
  return new_impl(
      n, HS_RA, HS_FP,
      [&]() -> void* {
        return g_cxx_is_libstdcxx || !g_next.nw_nt ? g_next.malloc(nz(n)) : g_next.nw_nt(n, kNothrow);
      },
      [&]() -> void* { return g_next.nw ? g_next.nw(n) : (no_cxx_runtime("operator new"), nullptr); });
}
HS_EXPORT void* operator new[](size_t n) {
  return new_impl(
      n, HS_RA, HS_FP,
      [&]() -> void* {
        return g_cxx_is_libstdcxx || !g_next.na_nt ? g_next.malloc(nz(n)) : g_next.na_nt(n, kNothrow);
      },
      [&]() -> void* { return g_next.na ? g_next.na(n) : (no_cxx_runtime("operator new[]"), nullptr); });
}
HS_EXPORT void* operator new(size_t n, const std::nothrow_t& nt) noexcept {
  return new_nothrow_impl(n, HS_RA, HS_FP, [&]() -> void* { return g_next.nw_nt ? g_next.nw_nt(n, nt) : g_next.malloc(nz(n)); });
}
HS_EXPORT void* operator new[](size_t n, const std::nothrow_t& nt) noexcept {
  return new_nothrow_impl(n, HS_RA, HS_FP, [&]() -> void* { return g_next.na_nt ? g_next.na_nt(n, nt) : g_next.malloc(nz(n)); });
}
HS_EXPORT void* operator new(size_t n, std::align_val_t al) {
  return new_impl(
      n, HS_RA, HS_FP, [&]() -> void* { return g_next.nw_al_nt ? g_next.nw_al_nt(n, al, kNothrow) : nullptr; },
      [&]() -> void* { return g_next.nw_al ? g_next.nw_al(n, al) : (no_cxx_runtime("aligned operator new"), nullptr); });
}
HS_EXPORT void* operator new[](size_t n, std::align_val_t al) {
  return new_impl(
      n, HS_RA, HS_FP, [&]() -> void* { return g_next.na_al_nt ? g_next.na_al_nt(n, al, kNothrow) : nullptr; },
      [&]() -> void* { return g_next.na_al ? g_next.na_al(n, al) : (no_cxx_runtime("aligned operator new[]"), nullptr); });
}
HS_EXPORT void* operator new(size_t n, std::align_val_t al, const std::nothrow_t& nt) noexcept {
  return new_nothrow_impl(n, HS_RA, HS_FP, [&]() -> void* { return g_next.nw_al_nt ? g_next.nw_al_nt(n, al, nt) : nullptr; });
}
HS_EXPORT void* operator new[](size_t n, std::align_val_t al, const std::nothrow_t& nt) noexcept {
  return new_nothrow_impl(n, HS_RA, HS_FP, [&]() -> void* { return g_next.na_al_nt ? g_next.na_al_nt(n, al, nt) : nullptr; });
}

// Deletes: libstdc++'s are all free(); otherwise the same form of the next
// runtime, falling back to its unsized/unaligned form, then to free.
#define HS_DEL(field, fallback_call)                                   \
  [&]() {                                                              \
    if (g_cxx_is_libstdcxx) g_next.free(p);                            \
    else if (g_next.field) fallback_call;                              \
    else if (g_next.dl) g_next.dl(p);                                  \
    else g_next.free(p);                                               \
  }
HS_EXPORT void operator delete(void* p) noexcept { delete_impl(p, HS_DEL(dl, g_next.dl(p))); }
HS_EXPORT void operator delete[](void* p) noexcept { delete_impl(p, HS_DEL(da, g_next.da(p))); }
HS_EXPORT void operator delete(void* p, size_t n) noexcept { delete_impl(p, HS_DEL(dl_sz, g_next.dl_sz(p, n))); }
HS_EXPORT void operator delete[](void* p, size_t n) noexcept { delete_impl(p, HS_DEL(da_sz, g_next.da_sz(p, n))); }
HS_EXPORT void operator delete(void* p, const std::nothrow_t& nt) noexcept {
  delete_impl(p, HS_DEL(dl_nt, g_next.dl_nt(p, nt)));
}
HS_EXPORT void operator delete[](void* p, const std::nothrow_t& nt) noexcept {
  delete_impl(p, HS_DEL(da_nt, g_next.da_nt(p, nt)));
}
HS_EXPORT void operator delete(void* p, std::align_val_t al) noexcept {
  delete_impl(p, HS_DEL(dl_al, g_next.dl_al(p, al)));
}
HS_EXPORT void operator delete[](void* p, std::align_val_t al) noexcept {
  delete_impl(p, HS_DEL(da_al, g_next.da_al(p, al)));
}
HS_EXPORT void operator delete(void* p, size_t n, std::align_val_t al) noexcept {
  delete_impl(p, HS_DEL(dl_sz_al, g_next.dl_sz_al(p, n, al)));
}
HS_EXPORT void operator delete[](void* p, size_t n, std::align_val_t al) noexcept {
  delete_impl(p, HS_DEL(da_sz_al, g_next.da_sz_al(p, n, al)));
}
HS_EXPORT void operator delete(void* p, std::align_val_t al, const std::nothrow_t& nt) noexcept {
  delete_impl(p, HS_DEL(dl_al_nt, g_next.dl_al_nt(p, al, nt)));
}
HS_EXPORT void operator delete[](void* p, std::align_val_t al, const std::nothrow_t& nt) noexcept {
  delete_impl(p, HS_DEL(da_al_nt, g_next.da_al_nt(p, al, nt)));
}

__attribute__((constructor(101))) static void heapscope_constructor() {
  if (attach_loaded_late()) return;  // dlopen'd by heapscope attach: it starts us (attach/attach.cpp)
  control_init((void*)&hs_own_malloc);
}
__attribute__((destructor(101))) static void heapscope_destructor() { control_exit_snapshot(); }
