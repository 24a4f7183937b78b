// every_hook.cpp -- calls every hooked allocation function and checks, after
// each call, the exact change in heapscope_totals() against its own ledger.
// Runs plain too (the API is weak): then only return values are printed.
// stdout: one line per call with return values and errno, which the driver
// compares between the plain and the preloaded run (bit-for-bit semantics).
// Exit status: 0 when every check passed; failures are listed on stderr.
#define HEAPSCOPE_WEAK
#include <heapscope/heapscope.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <new>

#pragma GCC diagnostic ignored "-Walloc-size-larger-than="

extern "C" void free_sized(void*, size_t) __attribute__((weak));
extern "C" void free_aligned_sized(void*, size_t, size_t) __attribute__((weak));

static int g_failures = 0;
static bool g_active = false;
static struct heapscope_totals g_last;

static struct heapscope_totals now() {
  struct heapscope_totals t{};
  if (g_active) heapscope_totals_or_inactive(&t);
  return t;
}
static void mark() { g_last = now(); }
// Checks the change since mark(): live bytes/blocks and cumulative bytes/blocks.
static void delta(int line, int64_t ib, int64_t ic, int64_t ab, int64_t ac) {
  if (!g_active) return;
  struct heapscope_totals t = now();
  int64_t d[4] = {(int64_t)(t.inuse_bytes - g_last.inuse_bytes), (int64_t)(t.inuse_count - g_last.inuse_count),
                  (int64_t)(t.alloc_bytes - g_last.alloc_bytes), (int64_t)(t.alloc_count - g_last.alloc_count)};
  int64_t want[4] = {ib, ic, ab, ac};
  if (memcmp(d, want, sizeof d) != 0) {
    ++g_failures;
    fprintf(stderr, "every_hook.cpp:%d: totals changed by inuse_bytes=%lld inuse_count=%lld alloc_bytes=%lld "
            "alloc_count=%lld; expected %lld %lld %lld %lld\n", line, (long long)d[0], (long long)d[1],
            (long long)d[2], (long long)d[3], (long long)ib, (long long)ic, (long long)ab, (long long)ac);
  }
}
static void delta_live(int line) {
  if (!g_active) return;
  struct heapscope_totals t = now();
  if (t.inuse_bytes != g_last.inuse_bytes || t.inuse_count != g_last.inuse_count) {
    ++g_failures;
    fprintf(stderr, "every_hook.cpp:%d: live totals changed\n", line);
  }
}
#define DELTA(...) delta(__LINE__, __VA_ARGS__)
#define REQUIRE(c)                                                             \
  do {                                                                         \
    if (!(c)) ++g_failures, fprintf(stderr, "every_hook.cpp:%d: %s\n", __LINE__, #c); \
  } while (0)

static char g_out[16384];
static size_t g_out_len = 0;
// Buffered so stdout's own buffer is allocated once, before any check.
static void outf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_out_len += (size_t)vsnprintf(g_out + g_out_len, sizeof g_out - g_out_len, fmt, ap);
  va_end(ap);
}

int main() {
  g_active = heapscope_active_or_inactive() == 1;
  fprintf(stderr, "every_hook: heapscope %s\n", g_active ? "active" : "absent");

  // malloc / free, errno preserved by free.
  mark();
  void* p = malloc(100);
  DELTA(100, 1, 100, 1);
  errno = 1234;
  free(p);
  REQUIRE(errno == 1234);
  DELTA(0, 0, 100, 1);
  free(nullptr);
  DELTA(0, 0, 100, 1);
  mark();
  p = malloc(0);
  outf("malloc0 %d\n", p != nullptr);
  DELTA(0, p ? 1 : 0, 0, p ? 1 : 0);
  free(p);

  // calloc, and its overflow.
  mark();
  p = calloc(10, 12);
  REQUIRE(p && ((char*)p)[119] == 0);
  DELTA(120, 1, 120, 1);
  free(p);
  errno = 0;
  void* q = calloc(SIZE_MAX / 2 + 1, 2);
  outf("calloc_overflow %d %d\n", q != nullptr, errno);
  DELTA(0, 0, 120, 1);

  // realloc: NULL -> malloc, grow, failed grow, realloc(p, 0).
  mark();
  p = realloc(nullptr, 50);
  DELTA(50, 1, 50, 1);
  p = realloc(p, 5000);
  REQUIRE(p != nullptr);
  DELTA(5000, 1, 5050, 2);
  errno = 0;
  q = realloc(p, SIZE_MAX - 4096);
  outf("realloc_fail %d %d\n", q != nullptr, errno);
  DELTA(5000, 1, 5050, 2);
  q = realloc(p, 0);
  outf("realloc0 %d\n", q != nullptr);
  if (!q) DELTA(0, 0, 5050, 2);
  else DELTA(0, 1, 5050, 3), free(q);

  // reallocarray and its overflow (p untouched).
  mark();
  p = reallocarray(nullptr, 10, 10);
  DELTA(100, 1, 100, 1);
  errno = 0;
  q = reallocarray(p, SIZE_MAX, 2);
  outf("reallocarray_overflow %d %d\n", q != nullptr, errno);
  DELTA(100, 1, 100, 1);
  p = reallocarray(p, 20, 10);
  DELTA(200, 1, 300, 2);
  free(p);

  // The aligned family with odd alignments and sizes: results as plain libc.
  const size_t aligns[] = {0, 1, 3, 8, 24, 4096, 1 << 20};
  const size_t sizes[] = {0, 1, 100, SIZE_MAX - 1000};
  for (size_t al : aligns) {
    for (size_t n : sizes) {
      mark();
      void* r = nullptr;
      errno = 0;
      int rc = posix_memalign(&r, al, n);
      outf("posix_memalign %zu %zu rc=%d\n", al, n, rc);
      DELTA(rc == 0 ? (int64_t)n : 0, rc == 0, rc == 0 ? (int64_t)n : 0, rc == 0);
      if (rc == 0) free(r);
      mark();
      errno = 0;
      r = aligned_alloc(al, n);
      outf("aligned_alloc %zu %zu %d errno=%d\n", al, n, r != nullptr, r ? 0 : errno);
      DELTA(r ? (int64_t)n : 0, r != nullptr, r ? (int64_t)n : 0, r != nullptr);
      free(r);
      mark();
      errno = 0;
      r = memalign(al, n);
      outf("memalign %zu %zu %d errno=%d\n", al, n, r != nullptr, r ? 0 : errno);
      DELTA(r ? (int64_t)n : 0, r != nullptr, r ? (int64_t)n : 0, r != nullptr);
      free(r);
    }
  }
  for (size_t n : sizes) {
    mark();
    errno = 0;
    void* r = valloc(n);
    outf("valloc %zu %d errno=%d\n", n, r != nullptr, r ? 0 : errno);
    DELTA(r ? (int64_t)n : 0, r != nullptr, r ? (int64_t)n : 0, r != nullptr);
    free(r);
    mark();
    errno = 0;
    r = pvalloc(n);
    outf("pvalloc %zu %d errno=%d\n", n, r != nullptr, r ? 0 : errno);
    DELTA(r ? (int64_t)n : 0, r != nullptr, r ? (int64_t)n : 0, r != nullptr);
    free(r);
  }

  // malloc_usable_size stays truthful.
  p = malloc(1000);
  outf("usable %zu\n", malloc_usable_size(p));
  REQUIRE(malloc_usable_size(p) >= 1000);
  free(p);

  // C23 free_sized / free_aligned_sized where some library provides them.
  if (free_sized) {
    mark();
    p = malloc(77);
    free_sized(p, 77);
    DELTA(0, 0, 77, 1);
  }
  if (free_aligned_sized) {
    mark();
    p = aligned_alloc(64, 128);
    free_aligned_sized(p, 64, 128);
    DELTA(0, 0, 128, 1);
  }

  // Every operator new / delete form.
  mark();
  p = ::operator new(40);
  DELTA(40, 1, 40, 1);
  ::operator delete(p);
  p = ::operator new[](41);
  DELTA(41, 1, 81, 2);
  ::operator delete[](p);
  p = ::operator new(42, std::nothrow);
  DELTA(42, 1, 123, 3);
  ::operator delete(p, std::nothrow);
  p = ::operator new[](43, std::nothrow);
  DELTA(43, 1, 166, 4);
  ::operator delete[](p, std::nothrow);
  p = ::operator new(44);
  ::operator delete(p, (size_t)44);
  p = ::operator new[](45);
  ::operator delete[](p, (size_t)45);
  DELTA(0, 0, 255, 6);
  mark();
  p = ::operator new(100, std::align_val_t(64));
  REQUIRE(((uintptr_t)p & 63) == 0);
  DELTA(100, 1, 100, 1);
  ::operator delete(p, std::align_val_t(64));
  p = ::operator new[](101, std::align_val_t(128));
  DELTA(101, 1, 201, 2);
  ::operator delete[](p, std::align_val_t(128));
  p = ::operator new(102, std::align_val_t(256), std::nothrow);
  DELTA(102, 1, 303, 3);
  ::operator delete(p, std::align_val_t(256), std::nothrow);
  p = ::operator new[](103, std::align_val_t(512), std::nothrow);
  DELTA(103, 1, 406, 4);
  ::operator delete[](p, std::align_val_t(512), std::nothrow);
  p = ::operator new(104, std::align_val_t(64));
  ::operator delete(p, (size_t)104, std::align_val_t(64));
  p = ::operator new[](105, std::align_val_t(64));
  ::operator delete[](p, (size_t)105, std::align_val_t(64));
  DELTA(0, 0, 615, 6);
  // Expressions, as a program writes them.
  mark();
  int* one = new int(7);
  long* arr = new long[10];
  DELTA(4 + 80, 2, 84, 2);
  delete one;
  delete[] arr;
  DELTA(0, 0, 84, 2);
  // A failing operator new throws bad_alloc and records nothing.
  mark();
  bool threw = false;
  try {
    p = ::operator new(SIZE_MAX - 4096);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  outf("new_huge_threw %d\n", threw);
  // The runtime's exception object itself is a (recorded) heap block, freed
  // by the catch: nothing stays live.
  delta_live(__LINE__);
  mark();
  p = ::operator new(SIZE_MAX - 4096, std::nothrow);
  outf("new_nothrow_huge %d\n", p != nullptr);
  DELTA(0, 0, 0, 0);
  // Recording still works after the exception passed through the hook.
  p = malloc(9);
  DELTA(9, 1, 9, 1);
  free(p);

  fwrite(g_out, 1, g_out_len, stdout);
  fprintf(stderr, "every_hook: %d failures\n", g_failures);
  return g_failures ? 1 : 0;
}
