/*
 * fork_in_handler.c -- a SIGALRM handler forks every 200 us while the main
 * thread allocates and frees in a tight loop, so some forks interrupt a
 * malloc or free (and heapscope's bookkeeping in it). Each child _exits at
 * once; the parent reaps them after 1 s. stdout: "done". Exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_forks;

static void on_alarm(int s) {
  (void)s;
  pid_t c = fork();
  if (c == 0) _exit(0);
  if (c > 0) g_forks++;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &it, NULL);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  void* keep[64] = {0};
  for (unsigned i = 0;; i++) {
    free(keep[i % 64]);
    keep[i % 64] = malloc(16 + i % 2000);
    if ((i & 1023) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if (t.tv_sec - t0.tv_sec >= 1) break;
    }
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  while (wait(NULL) > 0 || errno == EINTR) {
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
  fprintf(stderr, "fork_in_handler: %d forks\n", (int)g_forks);
  printf("done\n");
  return 0;
}
