/* ledger.c -- the attach tests' target: keeps its own ledger of the blocks it
 * makes, answers commands on stdin, one reply line each on stdout.
 *
 * Usage: ledger MODE [THREADS]
 *   MODE loop:  the main thread polls stdin with a 2 ms timeout and on each
 *               timeout makes and frees one block at loop_site (a busy program);
 *   MODE idle:  the main thread blocks in poll(stdin, -1) and a second thread in
 *               nanosleep(1000 s) (an idle program): an EINTR from either is a
 *               failure (exit 3), so an attach must restart both syscalls.
 *   MODE epoll: the only thread blocks in epoll_wait(stdin, -1): the kernel
 *               never restarts epoll_wait after a ptrace stop (signal(7)), so
 *               the attach must; an EINTR is a failure (exit 3).
 *   THREADS:    worker threads allocating in a tight loop (malloc/realloc/free,
 *               new-style sizes), each block filled with a pattern checked before
 *               it is freed (exit 4 on corruption); bounded by the count given.
 * At start it makes PRE (1000) blocks at pre_site and keeps them.
 * Commands:
 *   make N          N blocks of 48 bytes at after_site, kept live  -> "made N total T"
 *   free_pre K      frees K pre_site blocks                        -> "freed K"
 *   realloc_pre K   reallocs K pre_site blocks to 4096 bytes       -> "realloced K"
 *   usable          malloc_usable_size of a pre_site block > 0     -> "usable ok"
 *   drop            frees every after_site block                    -> "dropped N"
 *   dlopen PATH     dlopen(PATH, RTLD_NOW) (a bare name goes through RUNPATH) -> "opened" / "dlopen failed: ..."
 *   plugin N        the last opened module's plugin_make(N)         -> "plugin N total T"
 *   plugin_free     its plugin_free_all()                           -> "plugin freed K"
 *   dlclose         dlclose of the last opened module               -> "closed R"
 *   rtsigs          how many SIGRTMIN the program has handled so far -> "rtsigs N"
 *   fnptr N         N blocks of 56 bytes through a malloc pointer stored in data by a static
 *                   initializer (an R_X86_64_64 relocation), kept    -> "fnptr N"
 *   quit            stops the workers, prints "bye W" (W = worker rounds > 0 ? 1 : 0) and exits 0
 * Replies are deterministic: the same command sequence gives the same output
 * with or without heapscope attached.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PRE 1000
#define MAX_AFTER 200000
#define MAX_THREADS 16

static void* pre[PRE];
static int pre_next = 0;
static void* after[MAX_AFTER];
static int after_count = 0;
static atomic_int stop_workers;
static atomic_long worker_rounds;

__attribute__((noinline)) void* pre_site(size_t n) { return malloc(n); }
__attribute__((noinline)) void* after_site(size_t n) { return malloc(n); }
__attribute__((noinline)) void* loop_site(size_t n) { return malloc(n); }
__attribute__((noinline)) void* realloc_site(void* p, size_t n) { return realloc(p, n); }
__attribute__((noinline)) void* worker_site(size_t n) { return malloc(n); }

static void* worker(void* arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  enum { RING = 64 };
  unsigned char* ring[RING] = {0};
  size_t sizes[RING] = {0};
  while (!atomic_load(&stop_workers)) {
    for (int i = 0; i < RING; ++i) {
      if (ring[i]) {
        for (size_t b = 0; b < sizes[i]; ++b)
          if (ring[i][b] != (unsigned char)(i + sizes[i])) {
            fprintf(stderr, "ledger: worker block %d corrupted at byte %zu\n", i, b);
            exit(4);
          }
        if (rand_r(&seed) % 4 == 0) {
          size_t n = 16 + rand_r(&seed) % 2000;
          unsigned char* q = realloc(ring[i], n);
          if (!q) exit(5);
          ring[i] = q;
          sizes[i] = n;
          memset(q, (unsigned char)(i + n), n);
          continue;
        }
        free(ring[i]);
      }
      sizes[i] = 16 + rand_r(&seed) % 500;
      ring[i] = worker_site(sizes[i]);
      if (!ring[i]) exit(5);
      memset(ring[i], (unsigned char)(i + sizes[i]), sizes[i]);
    }
    atomic_fetch_add(&worker_rounds, 1);
  }
  for (int i = 0; i < RING; ++i) free(ring[i]);
  return NULL;
}

static volatile sig_atomic_t rt_count;
static void* sleeper(void* arg) {
  (void)arg;
  struct timespec ts = {1000, 0}, rem;
  int seen = rt_count;
  while (nanosleep(&ts, &rem) != 0) {
    if (errno == EINTR && rt_count != seen) {  /* our SIGRTMIN handler ran on this thread */
      seen = rt_count;
      ts = rem;
      continue;
    }
    fprintf(stderr, "ledger: nanosleep returned early: %s\n", strerror(errno));
    exit(3);
  }
  return NULL;
}

static void* plugin_handle;
/* SIGRTMIN (queued, so none is lost) counted by a handler: the attach tests send a stream of
 * them during attach and detach. An EINTR of the main loop's wait is a failure only if no
 * handler ran. */
static void on_rt(int sig) {
  (void)sig;
  rt_count = rt_count + 1;
}
/* Stored by the loader at start (R_X86_64_64 against malloc), long before any attach. */
static void* (*volatile const malloc_ptr)(size_t) = malloc;
static void* fnptr_blocks[4096];
static int fnptr_count;
__attribute__((noinline)) void* fnptr_site(size_t n) { return malloc_ptr(n); }

static int plugin_call(const char* name, int arg) {
  int (*fn)(int) = plugin_handle ? (int (*)(int))dlsym(plugin_handle, name) : NULL;
  return fn ? fn(arg) : -1;
}

static int command(char* line) {
  int n = 0;
  char path[200];
  if (sscanf(line, "make %d", &n) == 1) {
    for (int i = 0; i < n && after_count < MAX_AFTER; ++i) {
      after[after_count] = after_site(48);
      memset(after[after_count++], 1, 48);
    }
    printf("made %d total %d\n", n, after_count);
  } else if (sscanf(line, "free_pre %d", &n) == 1) {
    int k = 0;
    for (; k < n && pre_next < PRE; ++k) free(pre[pre_next++]);
    printf("freed %d\n", k);
  } else if (sscanf(line, "realloc_pre %d", &n) == 1) {
    int k = 0;
    for (; k < n && pre_next < PRE; ++k) {
      void* q = realloc_site(pre[pre_next], 4096);
      if (!q) exit(5);
      pre[pre_next++] = q;  /* now a post-attach block (kept) */
    }
    printf("realloced %d\n", k);
  } else if (!strncmp(line, "usable", 6)) {
    printf("usable %s\n", malloc_usable_size(pre[PRE - 1]) >= 64 ? "ok" : "WRONG");
  } else if (sscanf(line, "dlopen %199s", path) == 1) {
    plugin_handle = dlopen(path, RTLD_NOW);
    if (plugin_handle) printf("opened\n");
    else printf("dlopen failed: %s\n", dlerror());
  } else if (!strncmp(line, "rtsigs", 6)) {
    printf("rtsigs %d\n", (int)rt_count);
  } else if (sscanf(line, "fnptr %d", &n) == 1) {
    for (int i = 0; i < n && fnptr_count < 4096; ++i) fnptr_blocks[fnptr_count++] = fnptr_site(56);
    printf("fnptr %d\n", n);
  } else if (sscanf(line, "plugin %d", &n) == 1) {
    printf("plugin %d total %d\n", n, plugin_call("plugin_make", n));
  } else if (!strncmp(line, "plugin_free", 11)) {
    printf("plugin freed %d\n", plugin_call("plugin_free_all", 0));
  } else if (!strncmp(line, "dlclose", 7)) {
    int r = plugin_handle ? dlclose(plugin_handle) : -1;
    plugin_handle = NULL;
    printf("closed %d\n", r);
  } else if (!strncmp(line, "drop", 4)) {
    int k = after_count;
    while (after_count) free(after[--after_count]);
    printf("dropped %d\n", k);
  } else if (!strncmp(line, "quit", 4)) {
    return 1;
  } else {
    printf("unknown command\n");
  }
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int idle = argc > 1 && !strcmp(argv[1], "idle");
  int use_epoll = argc > 1 && !strcmp(argv[1], "epoll");
  int ep = -1;
  if (use_epoll) {
    struct epoll_event ev = {.events = EPOLLIN, .data = {.fd = 0}};
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) != 0) {
      fprintf(stderr, "ledger: epoll: %s\n", strerror(errno));
      return 6;
    }
  }
  int threads = argc > 2 ? atoi(argv[2]) : 0;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  for (int i = 0; i < PRE; ++i) pre[i] = pre_site(64);
  pthread_t th[MAX_THREADS + 1];
  for (int i = 0; i < threads; ++i) pthread_create(&th[i], NULL, worker, (void*)(uintptr_t)(i + 1));
  pthread_t sl;
  if (idle) pthread_create(&sl, NULL, sleeper, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_rt;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGRTMIN, &sa, NULL);
  int rt_seen = 0;
  printf("ready\n");
  char buf[256];
  size_t have = 0;
  for (;;) {
    int r;
    if (use_epoll) {
      struct epoll_event got_ev;
      r = epoll_wait(ep, &got_ev, 1, -1);
    } else {
      struct pollfd pfd = {0, POLLIN, 0};
      r = poll(&pfd, 1, idle ? -1 : 2);
    }
    if (r < 0 && errno == EINTR && rt_count != rt_seen) {  /* our handler ran: poll is never restarted */
      rt_seen = rt_count;
      continue;
    }
    if (r < 0) {
      fprintf(stderr, "ledger: %s: %s\n", use_epoll ? "epoll_wait" : "poll", strerror(errno));
      return 3;
    }
    if (r == 0) {
      free(loop_site(100));
      continue;
    }
    ssize_t got = read(0, buf + have, sizeof buf - 1 - have);
    if (got <= 0) break;
    have += (size_t)got;
    buf[have] = 0;
    char* nl;
    while ((nl = strchr(buf, '\n'))) {
      *nl = 0;
      int quit = command(buf);
      memmove(buf, nl + 1, have - (size_t)(nl + 1 - buf) + 1);
      have -= (size_t)(nl + 1 - buf);
      if (quit) {
        atomic_store(&stop_workers, 1);
        for (int i = 0; i < threads; ++i) pthread_join(th[i], NULL);
        printf("bye %d\n", threads ? atomic_load(&worker_rounds) > 0 : 1);
        return 0;
      }
    }
  }
  return 0;
}
