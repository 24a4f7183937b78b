// alloc_mix.cpp -- calls every hooked allocation function with its own ledger,
// and measures heapscope's and countshim's deltas over that region.
// stdout: the ledger (identical plain and preloaded, whatever the allocator).
// stderr: "measure hs_allocs=.. hs_bytes=.. hs_inuse=.. hs_inuse_bytes=.. cs_allocs=.. cs_bytes=.. cs_frees=.."
// Usage: alloc_mix [rounds] [portable]   Single-threaded; the measured region does no I/O.
// portable: skips reallocarray and pvalloc, which jemalloc does not define (a preloaded jemalloc
// then leaves them to glibc, and freeing glibc's block through jemalloc crashes, profiler or not).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <new>
#include "rel_api.h"

struct Ledger { uint64_t allocs = 0, bytes = 0, frees = 0, live = 0, live_bytes = 0; };
static Ledger L;
static void got(void* p, size_t n) { if (p) { L.allocs++; L.bytes += n; L.live++; L.live_bytes += n; } }
static void gone(size_t n) { L.frees++; L.live--; L.live_bytes -= n; }

static bool portable;
static void* keep[64];
static size_t keep_n[64];
static int nkeep;

__attribute__((noinline)) static void workload(int rounds) {
  for (int r = 0; r < rounds; r++) {
    size_t n = 16 + (size_t)(r % 7) * 40;
    void* a = malloc(n); got(a, n);
    void* b = calloc(3, n); got(b, 3 * n);
    void* c = realloc(nullptr, n); got(c, n);                 // realloc(NULL, n) is malloc
    void* c2 = realloc(c, n * 5);                               // grow
    if (c2) { gone(n); got(c2, n * 5); c = c2; }
    void* c3 = realloc(c, n);                                   // shrink
    if (c3) { gone(n * 5); got(c3, n); c = c3; }
    void* z = realloc(c, 0);                                    // glibc: frees, returns NULL
    if (z) { gone(n); got(z, 0); free(z); gone(0); } else gone(n);
    void* d = portable ? realloc(nullptr, 4 * n) : reallocarray(nullptr, 4, n); got(d, 4 * n);
    void* d2 = portable ? realloc(d, 8 * n) : reallocarray(d, 8, n);
    if (d2) { gone(4 * n); got(d2, 8 * n); d = d2; }
    void* e = nullptr;
    if (posix_memalign(&e, 64, n) == 0) got(e, n);
    void* f = aligned_alloc(256, 512); got(f, 512);
    void* g = memalign(128, n); got(g, n);
    void* h = valloc(n); got(h, n);
    void* i = portable ? valloc(n) : pvalloc(n); got(i, n);
    free(a); gone(n); free(b); gone(3 * n); free(d); gone(8 * n); free(e); gone(n);
    free(f); gone(512); free(g); gone(n); free(h); gone(n); free(i); gone(n);
    free(nullptr);
    int* j = new int(r); got(j, sizeof(int)); delete j; gone(sizeof(int));
    char* k = new char[n]; got(k, n); delete[] k; gone(n);
    struct alignas(64) A { char x[64]; };
    A* m = new A; got(m, sizeof(A)); delete m; gone(sizeof(A));
    A* m2 = new A[3]; got(m2, 3 * sizeof(A)); delete[] m2; gone(3 * sizeof(A));
    void* o = operator new(n, std::nothrow); got(o, n); operator delete(o, std::nothrow); gone(n);
    void* q = operator new(n); got(q, n); operator delete(q, n); gone(n);            // sized
    void* s = operator new[](n, std::align_val_t(32)); got(s, n);
    operator delete[](s, std::align_val_t(32)); gone(n);
    void* t = operator new(n, std::align_val_t(4096), std::nothrow); got(t, n);
    operator delete(t, n, std::align_val_t(4096)); gone(n);
    if (nkeep < 64 && r % 3 == 0) { keep_n[nkeep] = n; keep[nkeep] = malloc(n); got(keep[nkeep], n); nkeep++; }
  }
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 200;
  portable = argc > 2 && strcmp(argv[2], "portable") == 0;
  rel_init();
  // Warm-up outside the measured region: heapscope sets up its unwinder once per thread (the
  // main thread's stack bounds come from pthread_getattr_np, which reads /proc/self/maps through
  // the C library's allocator). That one-time set-up is not the program's and not comparable.
  { void* w = malloc(8); free(w); int* n = new int(0); delete n; }
  struct heapscope_totals h0, h1;
  uint64_t c0[3], c1[3];
  rel_totals(&h0); rel_counts(c0);
  workload(rounds);
  rel_counts(c1); rel_totals(&h1);
  fprintf(stderr, "measure hs_allocs=%llu hs_bytes=%llu hs_inuse=%lld hs_inuse_bytes=%lld cs_allocs=%llu cs_bytes=%llu cs_frees=%llu\n",
          (unsigned long long)(h1.alloc_count - h0.alloc_count), (unsigned long long)(h1.alloc_bytes - h0.alloc_bytes),
          (long long)(h1.inuse_count - h0.inuse_count), (long long)(h1.inuse_bytes - h0.inuse_bytes),
          (unsigned long long)(c1[0] - c0[0]), (unsigned long long)(c1[1] - c0[1]), (unsigned long long)(c1[2] - c0[2]));
  printf("ledger allocs=%llu bytes=%llu frees=%llu live=%llu live_bytes=%llu\n", (unsigned long long)L.allocs,
         (unsigned long long)L.bytes, (unsigned long long)L.frees, (unsigned long long)L.live, (unsigned long long)L.live_bytes);
  for (int i = 0; i < nkeep; i++) free(keep[i]);
  return 0;
}
