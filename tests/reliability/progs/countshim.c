/*
 * countshim.c -- a tiny counting preload, the independent count that the
 * reliability tests hold heapscope's totals against.
 *
 * Owns: counting every heap entry point heapscope hooks (malloc, calloc,
 * realloc, reallocarray, free, posix_memalign, aligned_alloc, memalign,
 * valloc, pvalloc, every operator new/delete form) and forwarding each call
 * to the next definition (RTLD_NEXT), so it can sit before or after
 * libheapscope.so (or jemalloc) in LD_PRELOAD.
 *
 * What it counts (the same events heapscope's HsTotals count):
 *   allocs/alloc_bytes: successful allocations (non-NULL result) and their
 *     requested sizes (calloc: n*size); a successful realloc/reallocarray of
 *     a non-NULL pointer counts one alloc of the new size and one free.
 *   frees: free/delete of a non-NULL pointer, realloc(p, 0) that freed p.
 * A nested call (an operator new that calls malloc underneath) is counted
 * once, at the outermost entry, through a per-thread initial-exec guard.
 *
 * Output: on every rename()/renameat()/renameat2() whose target ends in
 * ".hsnap" (the moment heapscope publishes a snapshot) and at exit it appends
 *   "SNAP|EXIT pid=P allocs=A alloc_bytes=B frees=F target=PATH"
 * to $COUNTSHIM_OUT.<pid>, with write(2) only.
 *
 * Safety: never allocates; dlsym's bootstrap calloc is served from a static
 * pool whose blocks never reach the next allocator. Counters are relaxed
 * atomics; hook-safe and thread-safe; not async-signal-safe (nor is malloc).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TLS __attribute__((tls_model("initial-exec")))
#define EXPORT __attribute__((visibility("default")))

static _Atomic uint64_t g_allocs, g_bytes, g_frees;
static __thread int t_depth TLS;

/* ---- bootstrap pool for dlsym's calloc ---- */
static char g_pool[65536] __attribute__((aligned(64)));
static size_t g_pool_used;
static int in_pool(void* p) { return (char*)p >= g_pool && (char*)p < g_pool + sizeof g_pool; }
static void* pool_alloc(size_t n) {
  n = (n + 63) & ~(size_t)63;
  if (g_pool_used + n > sizeof g_pool) {
    static const char msg[] = "countshim: bootstrap pool exhausted\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  void* p = g_pool + g_pool_used;
  g_pool_used += n;
  return p;
}

/* ---- next definitions ---- */
typedef void* (*malloc_fn)(size_t);
typedef void* (*calloc_fn)(size_t, size_t);
typedef void* (*realloc_fn)(void*, size_t);
typedef void* (*reallocarray_fn)(void*, size_t, size_t);
typedef void (*free_fn)(void*);
typedef int (*posix_memalign_fn)(void**, size_t, size_t);
typedef void* (*aligned_fn)(size_t, size_t);
typedef void* (*valloc_fn)(size_t);
typedef int (*rename_fn)(const char*, const char*);
typedef int (*renameat_fn)(int, const char*, int, const char*);
typedef int (*renameat2_fn)(int, const char*, int, const char*, unsigned);

static malloc_fn n_malloc;
static calloc_fn n_calloc;
static realloc_fn n_realloc;
static reallocarray_fn n_reallocarray;
static free_fn n_free;
static posix_memalign_fn n_posix_memalign;
static aligned_fn n_aligned_alloc, n_memalign;
static valloc_fn n_valloc, n_pvalloc;
static rename_fn n_rename;
static renameat_fn n_renameat;
static renameat2_fn n_renameat2;

/* operator new/delete, by mangled name */
typedef void* (*new_fn)(size_t);
typedef void* (*new_al_fn)(size_t, size_t);
typedef void* (*new_nt_fn)(size_t, const void*);
typedef void* (*new_al_nt_fn)(size_t, size_t, const void*);
typedef void (*del_fn)(void*);
typedef void (*del_sz_fn)(void*, size_t);
typedef void (*del_al_fn)(void*, size_t);
typedef void (*del_sz_al_fn)(void*, size_t, size_t);
typedef void (*del_nt_fn)(void*, const void*);
typedef void (*del_al_nt_fn)(void*, size_t, const void*);
static new_fn n__Znwm, n__Znam;
static new_al_fn n__ZnwmSt11align_val_t, n__ZnamSt11align_val_t;
static new_nt_fn n__ZnwmRKSt9nothrow_t, n__ZnamRKSt9nothrow_t;
static new_al_nt_fn n__ZnwmSt11align_val_tRKSt9nothrow_t, n__ZnamSt11align_val_tRKSt9nothrow_t;
static del_fn n__ZdlPv, n__ZdaPv;
static del_sz_fn n__ZdlPvm, n__ZdaPvm;
static del_al_fn n__ZdlPvSt11align_val_t, n__ZdaPvSt11align_val_t;
static del_sz_al_fn n__ZdlPvmSt11align_val_t, n__ZdaPvmSt11align_val_t;
static del_nt_fn n__ZdlPvRKSt9nothrow_t, n__ZdaPvRKSt9nothrow_t;
static del_al_nt_fn n__ZdlPvSt11align_val_tRKSt9nothrow_t, n__ZdaPvSt11align_val_tRKSt9nothrow_t;

static volatile int g_ready, g_initializing;

static void* need(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (!p) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, "countshim: no next definition of %s\n", name);
    (void)!write(2, buf, (size_t)n);
    _exit(127);
  }
  return p;
}
#define OPT(var, name) var = (__typeof__(var))dlsym(RTLD_NEXT, name)

static void init(void) {
  if (g_ready || g_initializing) return;
  g_initializing = 1;
  n_malloc = (malloc_fn)need("malloc");
  n_calloc = (calloc_fn)need("calloc");
  n_realloc = (realloc_fn)need("realloc");
  n_free = (free_fn)need("free");
  n_posix_memalign = (posix_memalign_fn)need("posix_memalign");
  n_aligned_alloc = (aligned_fn)need("aligned_alloc");
  n_memalign = (aligned_fn)need("memalign");
  n_valloc = (valloc_fn)need("valloc");
  n_pvalloc = (valloc_fn)need("pvalloc");
  n_reallocarray = (reallocarray_fn)need("reallocarray");
  n_rename = (rename_fn)need("rename");
  n_renameat = (renameat_fn)need("renameat");
  OPT(n_renameat2, "renameat2");
  OPT(n__Znwm, "_Znwm");
  OPT(n__Znam, "_Znam");
  OPT(n__ZnwmSt11align_val_t, "_ZnwmSt11align_val_t");
  OPT(n__ZnamSt11align_val_t, "_ZnamSt11align_val_t");
  OPT(n__ZnwmRKSt9nothrow_t, "_ZnwmRKSt9nothrow_t");
  OPT(n__ZnamRKSt9nothrow_t, "_ZnamRKSt9nothrow_t");
  OPT(n__ZnwmSt11align_val_tRKSt9nothrow_t, "_ZnwmSt11align_val_tRKSt9nothrow_t");
  OPT(n__ZnamSt11align_val_tRKSt9nothrow_t, "_ZnamSt11align_val_tRKSt9nothrow_t");
  OPT(n__ZdlPv, "_ZdlPv");
  OPT(n__ZdaPv, "_ZdaPv");
  OPT(n__ZdlPvm, "_ZdlPvm");
  OPT(n__ZdaPvm, "_ZdaPvm");
  OPT(n__ZdlPvSt11align_val_t, "_ZdlPvSt11align_val_t");
  OPT(n__ZdaPvSt11align_val_t, "_ZdaPvSt11align_val_t");
  OPT(n__ZdlPvmSt11align_val_t, "_ZdlPvmSt11align_val_t");
  OPT(n__ZdaPvmSt11align_val_t, "_ZdaPvmSt11align_val_t");
  OPT(n__ZdlPvRKSt9nothrow_t, "_ZdlPvRKSt9nothrow_t");
  OPT(n__ZdaPvRKSt9nothrow_t, "_ZdaPvRKSt9nothrow_t");
  OPT(n__ZdlPvSt11align_val_tRKSt9nothrow_t, "_ZdlPvSt11align_val_tRKSt9nothrow_t");
  OPT(n__ZdaPvSt11align_val_tRKSt9nothrow_t, "_ZdaPvSt11align_val_tRKSt9nothrow_t");
  g_ready = 1;
  g_initializing = 0;
}

static inline void count_alloc(void* p, size_t n) {
  if (p && t_depth == 1) {
    __atomic_fetch_add(&g_allocs, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_bytes, n, __ATOMIC_RELAXED);
  }
}
static inline void count_free(void* p) {
  if (p && t_depth == 1) __atomic_fetch_add(&g_frees, 1, __ATOMIC_RELAXED);
}

/* ---- output ---- */
static char* put_u64(char* o, uint64_t v) {
  char tmp[24];
  int n = 0;
  do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (n) *o++ = tmp[--n];
  return o;
}
static char* put_s(char* o, const char* s, size_t max) {
  while (*s && max--) *o++ = *s++;
  return o;
}
static void emit(const char* event, const char* target) {
  const char* prefix = getenv("COUNTSHIM_OUT");
  if (!prefix) return;
  char path[4096], line[4096 + 256];
  char* o = put_s(path, prefix, 4000);
  *o++ = '.';
  o = put_u64(o, (uint64_t)getpid());
  *o = 0;
  o = put_s(line, event, 16);
  o = put_s(o, " pid=", 8);
  o = put_u64(o, (uint64_t)getpid());
  o = put_s(o, " allocs=", 16);
  o = put_u64(o, __atomic_load_n(&g_allocs, __ATOMIC_RELAXED));
  o = put_s(o, " alloc_bytes=", 16);
  o = put_u64(o, __atomic_load_n(&g_bytes, __ATOMIC_RELAXED));
  o = put_s(o, " frees=", 16);
  o = put_u64(o, __atomic_load_n(&g_frees, __ATOMIC_RELAXED));
  o = put_s(o, " target=", 16);
  o = put_s(o, target ? target : "-", 4000);
  *o++ = '\n';
  int saved = errno;
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!write(fd, line, (size_t)(o - line));
    close(fd);
  }
  errno = saved;
}
static int ends_hsnap(const char* s) {
  size_t n = s ? strlen(s) : 0;
  return n >= 6 && memcmp(s + n - 6, ".hsnap", 6) == 0;
}
__attribute__((destructor(101))) static void at_exit_emit(void) { emit("EXIT", NULL); }

/* Heapscope publishes a snapshot by renaming its temp file; record our counters then. */
EXPORT int rename(const char* a, const char* b) {
  init();
  if (ends_hsnap(b)) emit("SNAP", b);
  return n_rename(a, b);
}
EXPORT int renameat(int fa, const char* a, int fb, const char* b) {
  init();
  if (ends_hsnap(b)) emit("SNAP", b);
  return n_renameat(fa, a, fb, b);
}
EXPORT int renameat2(int fa, const char* a, int fb, const char* b, unsigned flags) {
  init();
  if (ends_hsnap(b)) emit("SNAP", b);
  if (!n_renameat2) { errno = ENOSYS; return -1; }
  return n_renameat2(fa, a, fb, b, flags);
}

/* ---- C allocation family ---- */
#define ENTER() (++t_depth)
#define LEAVE() (--t_depth)

EXPORT void* malloc(size_t n) {
  if (!g_ready) { if (g_initializing) return pool_alloc(n); init(); }
  ENTER();
  void* p = n_malloc(n);
  count_alloc(p, n);
  LEAVE();
  return p;
}
EXPORT void* calloc(size_t a, size_t b) {
  if (!g_ready) {
    if (g_initializing) return pool_alloc(a * b); /* zeroed: static storage */
    init();
  }
  ENTER();
  void* p = n_calloc(a, b);
  count_alloc(p, a * b);
  LEAVE();
  return p;
}
EXPORT void free(void* p) {
  if (in_pool(p)) return;
  if (!g_ready) init();
  ENTER();
  count_free(p);
  n_free(p);
  LEAVE();
}
static void* do_realloc(void* old, size_t n, void* p) {
  if (p) {
    count_alloc(p, n);
    if (old) count_free(old);
  } else if (old && n == 0) {
    count_free(old); /* glibc: realloc(p, 0) frees p and returns NULL */
  }
  return p;
}
EXPORT void* realloc(void* old, size_t n) {
  if (in_pool(old)) { /* a bootstrap block moving to the real heap */
    void* p = malloc(n);
    if (p) memcpy(p, old, n < 256 ? n : 256);
    return p;
  }
  if (!g_ready) init();
  ENTER();
  void* p = do_realloc(old, n, n_realloc(old, n));
  LEAVE();
  return p;
}
EXPORT void* reallocarray(void* old, size_t a, size_t b) {
  if (!g_ready) init();
  ENTER();
  size_t n;
  int overflow = __builtin_mul_overflow(a, b, &n);
  void* r = n_reallocarray(old, a, b);
  void* p = overflow ? r : do_realloc(old, n, r); /* overflow: NULL, ENOMEM, old untouched */
  LEAVE();
  return p;
}
EXPORT int posix_memalign(void** out, size_t al, size_t n) {
  if (!g_ready) init();
  ENTER();
  int rc = n_posix_memalign(out, al, n);
  if (rc == 0) count_alloc(*out, n);
  LEAVE();
  return rc;
}
#define ALIGNED(name, nvar)                        \
  EXPORT void* name(size_t al, size_t n) {         \
    if (!g_ready) init();                          \
    ENTER();                                       \
    void* p = nvar(al, n);                         \
    count_alloc(p, n);                             \
    LEAVE();                                       \
    return p;                                      \
  }
ALIGNED(aligned_alloc, n_aligned_alloc)
ALIGNED(memalign, n_memalign)
EXPORT void* valloc(size_t n) {
  if (!g_ready) init();
  ENTER();
  void* p = n_valloc(n);
  count_alloc(p, n);
  LEAVE();
  return p;
}
EXPORT void* pvalloc(size_t n) {
  if (!g_ready) init();
  ENTER();
  void* p = n_pvalloc(n);
  count_alloc(p, n);
  LEAVE();
  return p;
}

/* ---- operator new/delete (forwarded to the next definition: heapscope, jemalloc or libstdc++) ---- */
#define NEWFN(mangled, params, args, size)                       \
  EXPORT void* mangled params {                                  \
    if (!g_ready) init();                                        \
    ENTER();                                                     \
    void* p = n_##mangled args;                                  \
    count_alloc(p, size);                                        \
    LEAVE();                                                     \
    return p;                                                    \
  }
NEWFN(_Znwm, (size_t n), (n), n)
NEWFN(_Znam, (size_t n), (n), n)
NEWFN(_ZnwmSt11align_val_t, (size_t n, size_t al), (n, al), n)
NEWFN(_ZnamSt11align_val_t, (size_t n, size_t al), (n, al), n)
NEWFN(_ZnwmRKSt9nothrow_t, (size_t n, const void* nt), (n, nt), n)
NEWFN(_ZnamRKSt9nothrow_t, (size_t n, const void* nt), (n, nt), n)
NEWFN(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t n, size_t al, const void* nt), (n, al, nt), n)
NEWFN(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t n, size_t al, const void* nt), (n, al, nt), n)

#define DELFN(mangled, params, args)                              \
  EXPORT void mangled params {                                    \
    if (!g_ready) init();                                         \
    ENTER();                                                      \
    count_free(p);                                                \
    n_##mangled args;                                             \
    LEAVE();                                                      \
  }
DELFN(_ZdlPv, (void* p), (p))
DELFN(_ZdaPv, (void* p), (p))
DELFN(_ZdlPvm, (void* p, size_t n), (p, n))
DELFN(_ZdaPvm, (void* p, size_t n), (p, n))
DELFN(_ZdlPvSt11align_val_t, (void* p, size_t al), (p, al))
DELFN(_ZdaPvSt11align_val_t, (void* p, size_t al), (p, al))
DELFN(_ZdlPvmSt11align_val_t, (void* p, size_t n, size_t al), (p, n, al))
DELFN(_ZdaPvmSt11align_val_t, (void* p, size_t n, size_t al), (p, n, al))
DELFN(_ZdlPvRKSt9nothrow_t, (void* p, const void* nt), (p, nt))
DELFN(_ZdaPvRKSt9nothrow_t, (void* p, const void* nt), (p, nt))
DELFN(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void* p, size_t al, const void* nt), (p, al, nt))
DELFN(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void* p, size_t al, const void* nt), (p, al, nt))

/* Lets a test program read the shim's counters (found with dlsym; absent when not preloaded). */
EXPORT void countshim_counts(uint64_t out[3]) {
  out[0] = __atomic_load_n(&g_allocs, __ATOMIC_RELAXED);
  out[1] = __atomic_load_n(&g_bytes, __ATOMIC_RELAXED);
  out[2] = __atomic_load_n(&g_frees, __ATOMIC_RELAXED);
}
