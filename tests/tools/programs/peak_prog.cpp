// peak_prog.cpp -- known heaps for the peak and OOM tests (test_peak.cpp).
// Modes (every allocation deterministic, no stdio before the last step):
//   peak         a steady cache of 64 x 16 KiB (keep_cache), then 300 x 1 MiB
//                held by hold_peak for 0.5 s and freed; the cache stays.
//   rise N       N steps of 64 KiB growth (rise_step), nothing freed until exit.
//   grow         1 MiB blocks (untouched: address space, not RSS) until malloc
//                fails (under a low RLIMIT_AS), then frees them; at most 4096.
//   wait FILE    idles until FILE exists (at most 60 s), then exits.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {
constexpr int kCache = 64;
constexpr size_t kCacheBlock = 16 << 10;
constexpr int kHeld = 300;
constexpr size_t kHeldBlock = 1 << 20;
void* g_cache[kCache];
void* g_held[kHeld];
void* g_grow[4096];

// Touched so the pages are real (RSS), not only reserved.
__attribute__((noinline)) void* touched(size_t n) {
  char* p = static_cast<char*>(std::malloc(n));
  if (p) std::memset(p, 1, n);
  return p;
}
__attribute__((noinline)) void keep_cache() {
  for (int i = 0; i < kCache; ++i) g_cache[i] = touched(kCacheBlock);
}
__attribute__((noinline)) void hold_peak() {
  for (int i = 0; i < kHeld; ++i) g_held[i] = touched(kHeldBlock);
  usleep(500 * 1000);
  for (int i = 0; i < kHeld; ++i) std::free(g_held[i]);
}
__attribute__((noinline)) void* rise_step() { return std::malloc(64 << 10); }
}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "peak")) {
    keep_cache();
    hold_peak();
    return 0;
  }
  if (argc >= 3 && !std::strcmp(argv[1], "rise")) {
    int n = std::atoi(argv[2]);
    for (int i = 0; i < n; ++i)
      if (!rise_step()) return 3;
    return 0;
  }
  if (argc >= 2 && !std::strcmp(argv[1], "grow")) {
    int n = 0;
    while (n < 4096 && (g_grow[n] = std::malloc(1u << 20))) ++n;
    for (int i = 0; i < n; ++i) std::free(g_grow[i]);
    return n > 0 && n < 4096 ? 0 : 4;
  }
  if (argc >= 3 && !std::strcmp(argv[1], "wait")) {
    struct stat st;
    for (int i = 0; i < 6000 && stat(argv[2], &st) != 0; ++i) usleep(10 * 1000);
    return 0;
  }
  return 2;
}
