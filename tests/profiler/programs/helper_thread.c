// helper_thread.c -- when heapscope starts its helper thread, and who answers
// the snapshot signal without it (HEAPSCOPE_THREAD, control.cpp).
// Usage: helper_thread single|threads alloc|wait
//   single:  the program never creates a thread.
//   threads: it first creates one thread (blocked on a pipe until the end).
//   alloc:   after raise(SIGUSR2), checks the signal's snapshot file is not
//            there yet, allocates one block, checks it is there now (a
//            program without the helper thread serves the request on its
//            own thread at its next allocation, before malloc returns).
//   wait:    after raise(SIGUSR2), waits up to 5 s for the file, allocating
//            nothing (only the helper thread can answer).
// stdout: "tasks=N helper=yes|no single=0|1" then "before_alloc=yes|no
// after_alloc=yes|no" or "idle=yes|no". Exit 0 unless usage is wrong.
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <unistd.h>

static int g_pipe[2];

static void* blocked(void* arg) {
  char c;
  (void)!read(g_pipe[0], &c, 1);
  return arg;
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
  if (argc != 3 || (strcmp(argv[1], "single") && strcmp(argv[1], "threads")) ||
      (strcmp(argv[2], "alloc") && strcmp(argv[2], "wait"))) {
    fprintf(stderr, "usage: helper_thread single|threads alloc|wait\n");
    return 2;
  }
  const char* out = getenv("HEAPSCOPE_OUT");
  char want[4200];
  snprintf(want, sizeof want, "%s.%d.0001.hsnap", out ? out : "./heapscope", (int)getpid());
  pthread_t th;
  int threads = !strcmp(argv[1], "threads");
  if (threads && (pipe(g_pipe) != 0 || pthread_create(&th, NULL, blocked, NULL) != 0)) return 1;
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
  if (threads) {
    (void)!write(g_pipe[1], "x", 1);
    pthread_join(th, NULL);
  }
  free(kept);
  return 0;
}
