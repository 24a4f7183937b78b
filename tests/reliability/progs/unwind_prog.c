/*
 * unwind_prog.c -- allocations where unwinding is hard, each with a ledger
 * checked against heapscope_totals() deltas:
 *   tiny:   a thread with a PTHREAD_STACK_MIN stack allocating 30 frames deep
 *   altsig: malloc/free in a SIGUSR1 handler running on a sigaltstack, raised with raise()
 *   nocfi:  malloc from an assembly function with no unwind info and %rbp -> PROT_NONE page
 *   nounwind: malloc from C compiled without unwind tables or frame pointers
 *   ucontext: malloc in coroutines (makecontext/swapcontext) on heap-allocated stacks of 16 and
 *             64 KiB, outside the thread's stack bounds, switching in the middle
 * stdout per case: "CASE ledger allocs=A bytes=B live=L heapscope allocs=.. bytes=.. live=.." (zeros when absent)
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include "rel_api.h"

void* rel_nocfi_alloc(size_t n, void* fake_fp);
void* rel_nounwind_alloc(size_t n);
void rel_nounwind_free(void* p);

struct ledger { unsigned long long allocs, bytes, live; };
static struct heapscope_totals h0;
static struct ledger L;
static void begin(void) { memset(&L, 0, sizeof L); rel_totals(&h0); }
static void end(const char* name) {
  struct heapscope_totals h1;
  rel_totals(&h1);
  printf("%s ledger allocs=%llu bytes=%llu live=%llu heapscope allocs=%llu bytes=%llu live=%lld\n", name, L.allocs,
         L.bytes, L.live, (unsigned long long)(h1.alloc_count - h0.alloc_count),
         (unsigned long long)(h1.alloc_bytes - h0.alloc_bytes), (long long)(h1.inuse_count - h0.inuse_count));
  fflush(stdout);
}

static void* tiny_keep[40];
__attribute__((noinline)) static void deep(int d) {
  volatile char pad[64];
  pad[0] = (char)d;
  tiny_keep[d] = malloc(24 + (size_t)d);
  L.allocs++; L.bytes += 24 + (size_t)d; L.live++;
  if (d + 1 < 30) deep(d + 1);
  __asm__ volatile("" : : "r"(pad) : "memory");
}
static void* tiny_thread(void* a) {
  (void)a;
  begin();
  deep(0);
  for (int i = 0; i < 30; i += 2) { free(tiny_keep[i]); L.live--; }
  end("tiny");
  for (int i = 1; i < 30; i += 2) free(tiny_keep[i]);
  return NULL;
}

static void* volatile sig_keep; /* volatile: GCC may hoist the load across raise() */
static void on_usr1(int s) {
  (void)s;
  void* p = malloc(333);
  free(p);
  sig_keep = malloc(444);
}

static ucontext_t uc_main, uc_co[3];
static void* uc_keep[3][60];
__attribute__((noinline)) static void uc_work(int id, int d) {
  if (d) { uc_work(id, d - 1); return; }
  for (int i = 0; i < 60; i++) {
    uc_keep[id][i] = malloc(50 + (size_t)i);
    L.allocs++; L.bytes += 50 + (size_t)i; L.live++;
    if (i % 10 == 0) swapcontext(&uc_co[id], &uc_main);
  }
}
static void uc_entry(int id) { uc_work(id, id * 7); }

int main(void) {
  rel_init();
  printf("start\n");
  fflush(stdout);
  /* tiny stack */
  pthread_attr_t at;
  pthread_attr_init(&at);
  long mn = sysconf(_SC_THREAD_STACK_MIN);
  if (mn < PTHREAD_STACK_MIN) mn = PTHREAD_STACK_MIN;
  pthread_attr_setstacksize(&at, (size_t)mn);
  pthread_t t;
  if (pthread_create(&t, &at, tiny_thread, NULL) != 0) { perror("pthread_create"); return 1; }
  pthread_join(t, NULL);

  /* signal handler on an alternate stack */
  stack_t ss;
  ss.ss_sp = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ss.ss_size = 65536;
  ss.ss_flags = 0;
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  begin();
  for (int i = 0; i < 20; i++) {
    raise(SIGUSR1);
    L.allocs += 2; L.bytes += 333 + 444; L.live += 1;
    free(sig_keep); L.live--;
  }
  sig_keep = malloc(444); L.allocs++; L.bytes += 444; L.live++;
  end("altsig");
  free(sig_keep);

  /* no CFI, bogus frame pointer into a guard page */
  void* guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  begin();
  void* keep[50];
  for (int i = 0; i < 50; i++) { keep[i] = rel_nocfi_alloc(100 + (size_t)i, (char*)guard + 2048); L.allocs++; L.bytes += 100 + (size_t)i; L.live++; }
  for (int i = 0; i < 50; i += 2) { free(keep[i]); L.live--; }
  end("nocfi");
  for (int i = 1; i < 50; i += 2) free(keep[i]);
  void* nullfp[1];
  begin();
  for (int i = 0; i < 10; i++) { nullfp[0] = rel_nocfi_alloc(64, NULL); L.allocs++; L.bytes += 64; free(nullfp[0]); }
  end("nocfi-nullfp");

  /* no unwind tables at all */
  begin();
  for (int i = 0; i < 50; i++) { keep[i] = rel_nounwind_alloc(200 + (size_t)i); L.allocs++; L.bytes += 200 + (size_t)i; L.live++; }
  for (int i = 0; i < 50; i += 5) { rel_nounwind_free(keep[i]); L.live--; }
  end("nounwind");
  for (int i = 0; i < 50; i++) if (i % 5) free(keep[i]);

  /* coroutines on heap stacks (allocated before the measured region) */
  void* uc_stacks[3];
  for (int id = 0; id < 3; id++) {
    size_t sz = id == 2 ? 16384 : 65536;
    uc_stacks[id] = malloc(sz);
    getcontext(&uc_co[id]);
    uc_co[id].uc_stack.ss_sp = uc_stacks[id];
    uc_co[id].uc_stack.ss_size = sz;
    uc_co[id].uc_link = &uc_main;
    makecontext(&uc_co[id], (void (*)(void))uc_entry, 1, id);
  }
  begin();
  for (int round = 0; round < 7; round++)
    for (int id = 0; id < 3; id++) swapcontext(&uc_main, &uc_co[id]);
  for (int id = 0; id < 3; id++)
    for (int i = 0; i < 60; i += 2) { free(uc_keep[id][i]); L.live--; }
  end("ucontext");
  for (int id = 0; id < 3; id++) {
    for (int i = 1; i < 60; i += 2) free(uc_keep[id][i]);
    free(uc_stacks[id]);
  }
  return 0;
}
