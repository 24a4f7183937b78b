// arena_growth.c -- RSS that grows while the live heap does not, and a real
// leak, for `heapscope trend` (tests/tools/test_memory.cpp). Run under the
// profiler (HEAPSCOPE_WEAK: it also runs without it); after each round it
// takes a snapshot with heapscope_snapshot() and prints the file's path.
// Usage: arena_growth frag|leak ROUNDS
//   frag: each round starts 2 threads; each allocates 4 MiB in 64-byte
//         blocks, frees all but the last one (which pins its arena's top, so
//         nothing is trimmed: glibc keeps the freed chunks), then waits until
//         the end. Live heap: flat (a few hundred bytes a round); the
//         allocator's held-free memory: +8 MiB a round, in a new arena per
//         thread (run with MALLOC_ARENA_MAX above 2*ROUNDS).
//   leak: each round keeps 8 MiB more in 4 KiB blocks (the marked line): the live
//         heap grows with RSS.
#define _GNU_SOURCE
#define HEAPSCOPE_WEAK
#include <heapscope/heapscope.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { kThreadsPerRound = 2, kMaxRounds = 16, kBlock = 64, kPerThread = 4 << 20 };

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_ready, g_stop;

static void* fragment(void* arg) {
  (void)arg;
  void* last = NULL;  // a list through the blocks: each holds the previous one's address
  for (int i = 0; i < kPerThread / kBlock; ++i) {
    void** b = malloc(kBlock);
    b[0] = last;
    last = b;
  }
  void* keep = last;  // the newest block stays: the arena's top is in use
  for (void* b = ((void**)last)[0]; b;) {
    void* prev = ((void**)b)[0];
    free(b);
    b = prev;
  }
  ((void**)keep)[0] = NULL;
  pthread_mutex_lock(&g_mu);
  ++g_ready;
  pthread_cond_broadcast(&g_cv);
  while (!g_stop) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  free(keep);
  return NULL;
}

static __attribute__((noinline)) void leak_round(void) {
  for (int i = 0; i < (8 << 20) / 4096; ++i) {
    char* p = malloc(4096);  // LINE:leak
    memset(p, 1, 4096);
    __asm__ volatile("" : : "r"(p) : "memory");
  }
}

int main(int argc, char** argv) {
  const int rounds = argc == 3 ? atoi(argv[2]) : 0;
  if (argc != 3 || rounds < 1 || rounds > kMaxRounds || (strcmp(argv[1], "frag") && strcmp(argv[1], "leak"))) {
    fprintf(stderr, "usage: arena_growth frag|leak ROUNDS (1..%d)\n", kMaxRounds);
    return 2;
  }
  const int frag = strcmp(argv[1], "frag") == 0;
  pthread_t th[kMaxRounds * kThreadsPerRound];
  int started = 0;
  char paths[kMaxRounds][4096];
  for (int r = 0; r < rounds; ++r) {
    if (frag) {
      for (int i = 0; i < kThreadsPerRound; ++i) {  // one after the other: each gets a new arena
        if (pthread_create(&th[started++], NULL, fragment, NULL) != 0) return 1;
        pthread_mutex_lock(&g_mu);
        while (g_ready < started) pthread_cond_wait(&g_cv, &g_mu);
        pthread_mutex_unlock(&g_mu);
      }
    } else {
      leak_round();
    }
    struct timespec ts = {0, 50 * 1000 * 1000};  // spread the snapshots over time a little
    nanosleep(&ts, NULL);
    if (heapscope_snapshot(paths[r], sizeof paths[r]) != 0) strcpy(paths[r], "-");
  }
  pthread_mutex_lock(&g_mu);
  g_stop = 1;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  for (int i = 0; i < started; ++i) pthread_join(th[i], NULL);
  for (int r = 0; r < rounds; ++r) printf("%s\n", paths[r]);
  return 0;
}
