/*
 * forward_shim.c -- the floor of allocation interposition, for bench/run.sh.
 *
 * A preload that defines the entry points the alloc loop and sqlite3 use
 * (malloc, calloc, realloc, free, posix_memalign, aligned_alloc, memalign,
 * operator new/new[] and delete/delete[] in their plain and sized forms) and
 * forwards each to the next definition (RTLD_NEXT), doing nothing else. Any
 * LD_PRELOAD profiler pays at least this much: the extra call, the indirect
 * jump and the lost inlining of the allocator's fast path. heapscope's
 * sampled mode is measured against it in docs/benchmarks.md.
 *
 * dlsym's own calloc during resolution is served from a static pool whose
 * blocks are never passed on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

static void* (*next_malloc)(size_t);
static void* (*next_calloc)(size_t, size_t);
static void* (*next_realloc)(void*, size_t);
static void (*next_free)(void*);
static int (*next_posix_memalign)(void**, size_t, size_t);
static void* (*next_aligned_alloc)(size_t, size_t);
static void* (*next_memalign)(size_t, size_t);
static __thread int resolving __attribute__((tls_model("initial-exec")));
static _Alignas(16) char pool[16384];
static size_t pool_used;

static int in_pool(void* p) { return (char*)p >= pool && (char*)p < pool + sizeof pool; }

static void resolve(void) {
  resolving = 1;
  next_calloc = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
  next_malloc = (void* (*)(size_t))dlsym(RTLD_NEXT, "malloc");
  next_realloc = (void* (*)(void*, size_t))dlsym(RTLD_NEXT, "realloc");
  next_free = (void (*)(void*))dlsym(RTLD_NEXT, "free");
  next_posix_memalign = (int (*)(void**, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
  next_aligned_alloc = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
  next_memalign = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
  resolving = 0;
}

static void* pool_alloc(size_t n) {
  size_t at = (pool_used + 15) & ~(size_t)15;
  if (at + n > sizeof pool) return NULL;
  pool_used = at + n;
  return pool + at;  /* static, hence zeroed, and never reused */
}

void* malloc(size_t n) {
  if (__builtin_expect(!next_malloc, 0)) {
    if (resolving) return pool_alloc(n);
    resolve();
  }
  return next_malloc(n);
}
void* calloc(size_t n, size_t m) {
  if (__builtin_expect(!next_calloc, 0)) {
    if (resolving) return n && m > SIZE_MAX / n ? NULL : pool_alloc(n * m);
    resolve();
  }
  return next_calloc(n, m);
}
void* realloc(void* p, size_t n) {
  if (__builtin_expect(!next_realloc, 0)) resolve();
  return next_realloc(p, n);
}
void free(void* p) {
  if (!p || in_pool(p)) return;
  if (__builtin_expect(!next_free, 0)) resolve();
  next_free(p);
}
int posix_memalign(void** out, size_t align, size_t n) {
  if (__builtin_expect(!next_posix_memalign, 0)) resolve();
  return next_posix_memalign(out, align, n);
}
void* aligned_alloc(size_t align, size_t n) {
  if (__builtin_expect(!next_aligned_alloc, 0)) resolve();
  return next_aligned_alloc(align, n);
}
void* memalign(size_t align, size_t n) {
  if (__builtin_expect(!next_memalign, 0)) resolve();
  return next_memalign(align, n);
}
/* libstdc++'s operators are malloc/free plus the new-handler loop, which a
 * floor measurement does not need: the workloads never run out of memory. */
void* _Znwm(size_t n) { return malloc(n); }
void* _Znam(size_t n) { return malloc(n); }
void _ZdlPv(void* p) { free(p); }
void _ZdaPv(void* p) { free(p); }
void _ZdlPvm(void* p, size_t n) { (void)n; free(p); }
void _ZdaPvm(void* p, size_t n) { (void)n; free(p); }
