/*
 * sig_prog.c -- a program that takes SIGUSR2 for itself.
 * Usage: sig_prog block|handler SECONDS READY_FILE
 *   block:   blocks SIGUSR2 in main before starting 2 workers (all threads block it)
 *   handler: installs its own SIGUSR2 handler (after heapscope's constructor ran)
 * Workers allocate and free until SECONDS pass. The test signals the process
 * and runs `heapscope snapshot PID` meanwhile.
 * stdout: "mode M done" and, in handler mode, "handler saw signals: yes|no".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
static volatile sig_atomic_t seen;
static void on_usr2(int s) { (void)s; seen++; }
static void* worker(void* a) {
  (void)a;
  void* keep[16] = {0};
  unsigned i = 0;
  while (!atomic_load(&stop)) { free(keep[i % 16]); keep[i % 16] = malloc(64 + i % 300); i++; }
  for (int k = 0; k < 16; k++) free(keep[k]);
  return NULL;
}
int main(int argc, char** argv) {
  if (argc < 4) { fprintf(stderr, "usage: sig_prog block|handler SECONDS READY_FILE\n"); return 2; }
  int block = strcmp(argv[1], "block") == 0;
  if (block) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
  } else {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
  }
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, NULL);
  int fd = open(argv[3], O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
  double secs = atof(argv[2]);
  struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
  while (nanosleep(&ts, &ts) != 0) {}
  atomic_store(&stop, 1);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  printf("mode %s done\n", argv[1]);
  if (!block) printf("handler saw signals: %s\n", seen ? "yes" : "no");
  return 0;
}
