// thread_churn.cpp -- N short threads, each allocating and freeing directly,
// through a C++ thread_local whose destructor allocates and frees, and
// through a pthread_key destructor that allocates and frees (both run after
// the thread function returned, while the C library tears the thread down).
// Every allocation made by this program's own code sits in a function named
// churn_*; the test finds them by frame address. Then main writes a snapshot
// (heapscope_snapshot) and prints its path.
// Usage: thread_churn N [BATCH]   (BATCH threads at a time, default 8)   stdout: "threads N allocs A" then "snapshot PATH" (or "snapshot none")
// Ledger: 5 allocations per thread, all freed.
#include <pthread.h>
#include <cstdio>
#include <cstdlib>
#include "rel_api.h"

static pthread_key_t g_key;
extern "C" __attribute__((noinline)) void churn_key_dtor(void* v) {
  free(v);
  void* p = malloc(48);                     // allocates during thread teardown
  __asm__ volatile("" : : "r"(p) : "memory");
  free(p);
}
extern "C" __attribute__((noinline)) void churn_tl_dtor_body() {
  char* p = new char[40];                   // allocates in a thread_local destructor
  __asm__ volatile("" : : "r"(p) : "memory");
  delete[] p;
}
struct ChurnTL {
  int used = 0;
  ~ChurnTL() { churn_tl_dtor_body(); }
};
static thread_local ChurnTL t_obj;

extern "C" __attribute__((noinline)) void* churn_thread(void*) {
  t_obj.used = 1;
  void* a = malloc(100);
  int* b = new int[10];
  void* c = calloc(4, 8);
  pthread_setspecific(g_key, malloc(24));
  __asm__ volatile("" : : "r"(a), "r"(b), "r"(c) : "memory");
  free(a);
  delete[] b;
  free(c);
  return nullptr;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  const int batch = argc > 2 ? atoi(argv[2]) : 8;
  if (batch < 1 || batch > 64) { fprintf(stderr, "thread_churn: BATCH %s: expected 1 to 64\n", argv[2]); return 2; }
  rel_init();
  pthread_key_create(&g_key, churn_key_dtor);
  for (int i = 0; i < n; i += batch) {
    pthread_t th[64];
    int m = n - i < batch ? n - i : batch;
    for (int j = 0; j < m; j++)
      if (pthread_create(&th[j], nullptr, churn_thread, nullptr) != 0) { perror("pthread_create"); return 1; }
    for (int j = 0; j < m; j++) pthread_join(th[j], nullptr);
  }
  printf("threads %d allocs %d\n", n, 6 * n);
  char path[4096];
  if (rel_snapshot(path, sizeof path) == 0) printf("snapshot %s\n", path);
  else printf("snapshot none\n");
  return 0;
}
