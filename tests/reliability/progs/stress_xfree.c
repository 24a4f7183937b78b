/*
 * stress_xfree.c -- N threads allocate and free each other's blocks for S
 * seconds (blocks pass through a shared array of slots by atomic exchange),
 * while the test sends snapshot signals from outside. Each thread keeps its
 * own ledger; at the end, with every worker parked at a barrier, main compares
 * the ledger with heapscope_totals() deltas taken over the same region.
 * Usage: stress_xfree THREADS SECONDS [READY_FILE]
 * stdout: "ledger allocs=A bytes=B live=L live_bytes=LB" and
 *         "heapscope allocs=.. bytes=.. live=.. live_bytes=.." (zeros when absent)
 * Exit: 0. Safety: workers call nothing but malloc/free and atomics.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include "rel_api.h"

#define SLOTS 4096
static _Atomic(uint64_t*) slots[SLOTS];
static atomic_int stop;
static pthread_barrier_t start_b, end_b, release_b;
struct ledger { uint64_t allocs, bytes, frees, freed_bytes; } __attribute__((aligned(64)));
static struct ledger ledgers[64];

static void* worker(void* arg) {
  struct ledger* l = &ledgers[(long)arg];
  uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)((long)arg + 1);
  pthread_barrier_wait(&start_b);
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    for (int k = 0; k < 64; k++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      size_t n = 8 + (x % 2000);
      uint64_t* p = malloc(n);
      if (!p) abort();
      p[0] = n;
      l->allocs++; l->bytes += n;
      uint64_t* old = atomic_exchange(&slots[(x >> 20) % SLOTS], p);
      if (old) { l->frees++; l->freed_bytes += old[0]; free(old); }
    }
  }
  pthread_barrier_wait(&end_b);      /* main measures while we are parked */
  pthread_barrier_wait(&release_b);
  return NULL;
}

int main(int argc, char** argv) {
  int nt = argc > 1 ? atoi(argv[1]) : 8;
  double secs = argc > 2 ? atof(argv[2]) : 3;
  if (nt < 1 || nt > 64) { fprintf(stderr, "stress_xfree: THREADS %d, expected 1..64\n", nt); return 2; }
  rel_init();
  pthread_t th[64];
  pthread_barrier_init(&start_b, NULL, (unsigned)nt + 1);
  pthread_barrier_init(&end_b, NULL, (unsigned)nt + 1);
  pthread_barrier_init(&release_b, NULL, (unsigned)nt + 1);
  for (long i = 0; i < nt; i++) pthread_create(&th[i], NULL, worker, (void*)i);
  struct heapscope_totals h0, h1;
  rel_totals(&h0);
  pthread_barrier_wait(&start_b);
  if (argc > 3) { int fd = open(argv[3], O_CREAT | O_WRONLY, 0644); if (fd >= 0) close(fd); }
  struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
  while (nanosleep(&ts, &ts) != 0) {} /* the snapshot signal interrupts it (EINTR) */
  atomic_store(&stop, 1);
  pthread_barrier_wait(&end_b);
  rel_totals(&h1);
  pthread_barrier_wait(&release_b);
  for (int i = 0; i < nt; i++) pthread_join(th[i], NULL);
  struct ledger t = {0};
  for (int i = 0; i < nt; i++) {
    t.allocs += ledgers[i].allocs; t.bytes += ledgers[i].bytes;
    t.frees += ledgers[i].frees; t.freed_bytes += ledgers[i].freed_bytes;
  }
  printf("ledger allocs=%llu bytes=%llu live=%llu live_bytes=%llu\n", (unsigned long long)t.allocs,
         (unsigned long long)t.bytes, (unsigned long long)(t.allocs - t.frees),
         (unsigned long long)(t.bytes - t.freed_bytes));
  printf("heapscope allocs=%llu bytes=%llu live=%lld live_bytes=%lld\n",
         (unsigned long long)(h1.alloc_count - h0.alloc_count), (unsigned long long)(h1.alloc_bytes - h0.alloc_bytes),
         (long long)(h1.inuse_count - h0.inuse_count), (long long)(h1.inuse_bytes - h0.inuse_bytes));
  for (int i = 0; i < SLOTS; i++) free(atomic_load(&slots[i]));
  return 0;
}
