// helper_thread.c -- when heapscope starts its helper thread, and who answers
// the snapshot signal without it (HEAPSCOPE_THREAD, control.cpp).
// Usage: helper_thread single|threads|c11 alloc|wait
//        helper_thread cut
//   single:  the program never creates a thread.
//   threads: it first creates one thread (blocked on a pipe until the end).
//   c11:     the same thread made with C11 thrd_create (which glibc does not
//            route through pthread_create).
//   cut:     sampled mode (run with HEAPSCOPE_SAMPLE=64M): 200 times, a 1 GiB
//            block (always sampled), the snapshot signal, the block's free
//            (which serves the request), then one 16-byte block kept. The
//            signal cut the countdown; the next block must still be sampled
//            with its own odds (16 B in 64 MiB), not for sure. Prints
//            "inuse_mib=N" from heapscope_totals(): a wrongly sampled 16-byte
//            block would count for ~64 MiB.
//   alloc:   after raise(SIGUSR2), checks the signal's snapshot file is not
//            there yet, allocates one block, checks it is there now (a
//            program without the helper thread serves the request on its
//            own thread at its next allocation, before malloc returns).
//   wait:    after raise(SIGUSR2), waits up to 5 s for the file, allocating
//            nothing (only the helper thread can answer).
// stdout: "tasks=N helper=yes|no single=0|1" then "before_alloc=yes|no
// after_alloc=yes|no" or "idle=yes|no". Exit 0 unless usage is wrong.
#define _GNU_SOURCE
#define HEAPSCOPE_WEAK
#include <heapscope/heapscope.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <threads.h>
#include <unistd.h>

static int g_pipe[2];

static void* blocked(void* arg) {
  char c;
  (void)!read(g_pipe[0], &c, 1);
  return arg;
}
static int blocked_c11(void* arg) {
  blocked(arg);
  return 0;
}

static int cut(void) {
  static void* kept[200];
  for (int i = 0; i < 200; ++i) {
    void* big = malloc((size_t)1 << 30);
    if (!big) return 1;
    raise(SIGUSR2);
    free(big);
    kept[i] = malloc(16);
  }
  struct heapscope_totals t;
  if (heapscope_totals(&t) != 0) return 1;
  printf("inuse_mib=%llu\n", (unsigned long long)(t.inuse_bytes >> 20));
  for (int i = 0; i < 200; ++i) free(kept[i]);
  return 0;
}

// Threads in this process, and whether one of them is heapscope's.
static int count_tasks(int* helper) {
  int n = 0;
  *helper = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return -1;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    ++n;
    char path[300], comm[64] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE* f = fopen(path, "r");
    if (f) {
      if (fgets(comm, sizeof comm, f) && !strcmp(comm, "heapscope\n")) *helper = 1;
      fclose(f);
    }
  }
  closedir(d);
  return n;
}

int main(int argc, char** argv) {
  if (argc == 2 && !strcmp(argv[1], "cut")) return cut();
  if (argc != 3 || (strcmp(argv[1], "single") && strcmp(argv[1], "threads") && strcmp(argv[1], "c11")) ||
      (strcmp(argv[2], "alloc") && strcmp(argv[2], "wait"))) {
    fprintf(stderr, "usage: helper_thread single|threads|c11 alloc|wait | helper_thread cut\n");
    return 2;
  }
  const char* out = getenv("HEAPSCOPE_OUT");
  char want[4200];
  snprintf(want, sizeof want, "%s.%d.0001.hsnap", out ? out : "./heapscope", (int)getpid());
  pthread_t th;
  thrd_t th11;
  int threads = !strcmp(argv[1], "threads"), c11 = !strcmp(argv[1], "c11");
  if ((threads || c11) && pipe(g_pipe) != 0) return 1;
  if (threads && pthread_create(&th, NULL, blocked, NULL) != 0) return 1;
  if (c11 && thrd_create(&th11, blocked_c11, NULL) != thrd_success) return 1;
  void* kept = malloc(1000);
  int helper = 0, tasks = count_tasks(&helper);
  printf("tasks=%d helper=%s single=%d\n", tasks, helper ? "yes" : "no", (int)__libc_single_threaded);
  fflush(stdout);  // stdout's buffer is allocated here, not below
  raise(SIGUSR2);
  if (!strcmp(argv[2], "alloc")) {
    int before = access(want, F_OK) == 0;
    void* p = malloc(100);
    int after = access(want, F_OK) == 0;
    printf("before_alloc=%s after_alloc=%s\n", before ? "yes" : "no", after ? "yes" : "no");
    free(p);
  } else {
    int found = 0;
    for (int i = 0; i < 500 && !found; ++i) {
      found = access(want, F_OK) == 0;
      if (!found) usleep(10000);
    }
    printf("idle=%s\n", found ? "yes" : "no");
  }
  if (threads || c11) (void)!write(g_pipe[1], "x", 1);
  if (threads) pthread_join(th, NULL);
  if (c11) thrd_join(th11, NULL);
  free(kept);
  return 0;
}
