/*
 * exit_in_handler.c -- a timer signal's handler calls exit(3) while the main
 * thread is allocating and freeing in a tight loop, so exit() often runs on top
 * of an interrupted malloc/free (not async-signal-safe, but common in real
 * programs' SIGTERM/SIGALRM handlers; glibc's own exit path copes with it).
 * With "thread", the loop runs in a second thread and the signal is sent to
 * it: glibc then takes its arena locks (a single-threaded process skips
 * them), so exit() runs with the interrupted free's arena lock held.
 * Usage: exit_in_handler [DELAY_US [thread]]   Exit status: 3.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int s) { (void)s; exit(3); }

static void churn(void) {
  void* keep[64] = {0};
  for (unsigned i = 0;; i++) {
    free(keep[i % 64]);
    keep[i % 64] = malloc(16 + i % 2000);
  }
}

/* Blocks above tcache's 1032 bytes: every malloc and free takes the arena lock. */
static void* churn_big(void* arg) {
  (void)arg;
  for (;;) {
    void* v[64];
    for (int i = 0; i < 64; i++) v[i] = malloc(2000 + i * 16);
    for (int i = 0; i < 64; i++) free(v[i]);
  }
  return NULL;
}

int main(int argc, char** argv) {
  long delay = argc > 1 ? atol(argv[1]) : 20000 + (getpid() % 50) * 1000;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  if (argc > 2 && !strcmp(argv[2], "thread")) {
    pthread_t t;
    if (pthread_create(&t, NULL, churn_big, NULL) != 0) return 1;
    usleep((useconds_t)delay);
    pthread_kill(t, SIGALRM);
    sleep(20);  /* the handler exits long before */
    return 1;
  }
  struct itimerval it = {{0, 0}, {delay / 1000000, delay % 1000000}};
  setitimer(ITIMER_REAL, &it, NULL);
  churn();
  return 1;
}
