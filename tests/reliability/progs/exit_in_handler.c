/*
 * exit_in_handler.c -- a timer signal's handler calls exit(3) while the main
 * thread is allocating and freeing in a tight loop, so exit() often runs on top
 * of an interrupted malloc/free (not async-signal-safe, but common in real
 * programs' SIGTERM/SIGALRM handlers; glibc's own exit path copes with it).
 * Usage: exit_in_handler [DELAY_US]   Exit status: 3.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int s) { (void)s; exit(3); }

int main(int argc, char** argv) {
  long delay = argc > 1 ? atol(argv[1]) : 20000 + (getpid() % 50) * 1000;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {delay / 1000000, delay % 1000000}};
  setitimer(ITIMER_REAL, &it, NULL);
  void* keep[64] = {0};
  for (unsigned i = 0;; i++) {
    free(keep[i % 64]);
    keep[i % 64] = malloc(16 + i % 2000);
  }
}
