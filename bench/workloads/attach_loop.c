/* attach_loop.c -- the workload of bench/attach.py: the same allocation loop
 * run plain, under LD_PRELOAD, attached, and attached-then-detached.
 *
 * Usage: attach_loop THREADS ITERS [MODDIR NMOD]
 *   Loads NMOD modules MODDIR/libmodNNN.so (each allocates through its own
 *   malloc slot once, so the attach has NMOD more modules to patch), starts
 *   THREADS workers, prints "ready" and waits for a line on stdin:
 *     "go"    every worker runs ITERS malloc/free pairs (a ring of 64 live
 *             blocks, 16..4096 bytes, 4 call sites 6 frames deep); then it
 *             prints "ns_per_op N" (wall time of the loop / all pairs) and waits again;
 *     "spin"  every worker allocates until "quit" (bounded by ITERS rounds):
 *             the load while bench/attach.py times how long an attach holds a thread;
 *     "quit"  stops the workers and exits 0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long iters;
static atomic_int gen;   /* bumped by main to start a round */
static atomic_int mode;  /* 1 timed round, 2 spin, 3 quit */
static atomic_int finished;

__attribute__((noinline)) static void* site_a(size_t n) { return malloc(n); }
__attribute__((noinline)) static void* site_b(size_t n) { return malloc(n); }
__attribute__((noinline)) static void* site_c(size_t n) { return calloc(1, n); }
__attribute__((noinline)) static void* site_d(size_t n) { return malloc(n); }
__attribute__((noinline)) static void* pick(int k, size_t n) {
  switch (k & 3) {
    case 0: return site_a(n);
    case 1: return site_b(n);
    case 2: return site_c(n);
    default: return site_d(n);
  }
}
__attribute__((noinline)) static void* depth(int d, int k, size_t n) {
  void* p = d ? depth(d - 1, k, n) : pick(k, n);
  __asm__ volatile("" ::: "memory");
  return p;
}

static void run(unsigned seed, long count) {
  void* ring[64] = {0};
  for (long i = 0; i < count; ++i) {
    seed = seed * 1103515245u + 12345u;
    int slot = (int)(i & 63);
    free(ring[slot]);
    ring[slot] = depth(4, (int)(seed >> 8), 16 + (seed >> 12) % 4081);
    if ((i & 1023) == 0 && atomic_load_explicit(&mode, memory_order_relaxed) == 3) break;
  }
  for (int s = 0; s < 64; ++s) free(ring[s]);
}

static void* worker(void* arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  int seen = 0;
  for (;;) {
    while (atomic_load(&gen) == seen) {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    }
    seen = atomic_load(&gen);
    int m = atomic_load(&mode);
    if (m == 3) return NULL;
    run(seed, iters);
    atomic_fetch_add(&finished, 1);
  }
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int threads = atoi(argv[1]);
  iters = atol(argv[2]);
  if (threads < 1 || threads > 64 || iters < 1) return 2;
  if (argc >= 5) {
    int nmod = atoi(argv[4]);
    for (int i = 0; i < nmod; ++i) {
      char path[4096];
      snprintf(path, sizeof path, "%s/libmod%03d.so", argv[3], i);
      void* h = dlopen(path, RTLD_NOW);
      void* (*fn)(void) = h ? (void* (*)(void))dlsym(h, "mod_fn") : NULL;
      if (!fn) {
        fprintf(stderr, "attach_loop: %s: %s\n", path, dlerror());
        return 3;
      }
      free(fn());
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_t th[64];
  for (int i = 0; i < threads; ++i) pthread_create(&th[i], NULL, worker, (void*)(uintptr_t)(i * 7919 + 1));
  printf("ready\n");
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (!strncmp(line, "go", 2)) {
      atomic_store(&finished, 0);
      atomic_store(&mode, 1);
      int64_t t0 = now_ns();
      atomic_fetch_add(&gen, 1);
      while (atomic_load(&finished) < threads) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
      }
      int64_t dt = now_ns() - t0;
      printf("ns_per_op %.2f\n", (double)dt / ((double)iters * threads));
    } else if (!strncmp(line, "spin", 4)) {
      atomic_store(&mode, 2);
      atomic_fetch_add(&gen, 1);
      printf("spinning\n");
    } else if (!strncmp(line, "quit", 4)) {
      break;
    }
  }
  atomic_store(&mode, 3);
  atomic_fetch_add(&gen, 1);
  for (int i = 0; i < threads; ++i) pthread_join(th[i], NULL);
  return 0;
}
