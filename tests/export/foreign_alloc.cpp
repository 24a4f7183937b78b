// foreign_alloc.cpp -- a tiny program with known allocations, linked once with
// tcmalloc (gperftools) and once with jemalloc, so the tests get real heap
// profiles in each foreign format. It prints, on stdout, the runtime address
// of each allocating function and the load base of the executable:
//   keep_small=0x... keep_big=0x... churn=0x... thread_keep=0x... base=0x...
// Allocations (malloc, kept live unless said):
//   keep_small: 10 x 1000 B   keep_big: 3 x 4096 B   churn: 5 x 100 B (freed)
//   thread_keep (in a second thread): 4 x 2000 B
//   many (only with argument "many"): 20000 x 1000 B, for sampled runs
// With GPERF_SAMPLE=FILE (tcmalloc build) it also writes tcmalloc's sampled
// heap (MallocExtension::GetHeapSample, "heap_v2/RATE") to FILE.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#ifdef FOREIGN_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

// Kept blocks go through an opaque store so the compiler cannot elide the
// mallocs (GCC removes a malloc whose result is never read).
void* kept[40100];
int nkept = 0;
static inline void keep(void* p) {
  kept[nkept++] = p;
  asm volatile("" : : "r"(p) : "memory");
}

extern "C" __attribute__((noinline)) void keep_small() {
  for (int i = 0; i < 10; ++i) keep(malloc(1000));
}
extern "C" __attribute__((noinline)) void keep_big() {
  for (int i = 0; i < 3; ++i) keep(malloc(4096));
}
extern "C" __attribute__((noinline)) void churn() {
  for (int i = 0; i < 5; ++i) {
    void* p = malloc(100);
    asm volatile("" : : "r"(p) : "memory");
    free(p);
  }
}
extern "C" __attribute__((noinline)) void thread_keep() {
  for (int i = 0; i < 4; ++i) keep(malloc(2000));
}
extern "C" __attribute__((noinline)) void many() {
  for (int i = 0; i < 20000; ++i) keep(malloc(1000));
}

int main(int argc, char** argv) {
  Dl_info info{};
  dladdr(reinterpret_cast<void*>(&keep_small), &info);
  printf("keep_small=%p keep_big=%p churn=%p thread_keep=%p many=%p main=%p base=%p\n",
         reinterpret_cast<void*>(&keep_small), reinterpret_cast<void*>(&keep_big),
         reinterpret_cast<void*>(&churn), reinterpret_cast<void*>(&thread_keep),
         reinterpret_cast<void*>(&many), reinterpret_cast<void*>(&main), info.dli_fbase);
  fflush(stdout);
  keep_small();
  keep_big();
  churn();
  std::thread t(thread_keep);
  t.join();
  if (argc > 1 && strcmp(argv[1], "many") == 0) many();
#ifdef FOREIGN_TCMALLOC
  if (const char* out = getenv("GPERF_SAMPLE")) {
    std::string sample;
    MallocExtension::instance()->GetHeapSample(&sample);
    FILE* f = fopen(out, "w");
    if (!f) return 3;
    fwrite(sample.data(), 1, sample.size(), f);
    fclose(f);
  }
#endif
  return 0;
}
