// sig_taken.c -- a program with threads that takes the snapshot signal for
// itself: `heapscope snapshot PID` must still answer, over the control
// channel served by heapscope's helper thread.
// Usage: sig_taken handler|block|ignore READY_FILE
//   handler: installs its own SIGUSR2 handler (as Debian's clang does);
//   block:   blocks SIGUSR2 in every thread of its own;
//   ignore:  sets SIGUSR2 to SIG_IGN.
// Starts one thread (which brings heapscope's helper), keeps 12 blocks of
// 5151 bytes, writes READY_FILE, then waits until stdin closes.
// stdout: "mode M handler_calls=N" at the end.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_calls;
static void on_usr2(int sig) {
  (void)sig;
  ++g_calls;
}

static void* idle(void* arg) {
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return arg;
}

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[1], "handler") && strcmp(argv[1], "block") && strcmp(argv[1], "ignore"))) {
    fprintf(stderr, "usage: sig_taken handler|block|ignore READY_FILE\n");
    return 2;
  }
  if (!strcmp(argv[1], "handler")) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
  } else if (!strcmp(argv[1], "ignore")) {
    signal(SIGUSR2, SIG_IGN);
  } else {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);  // inherited by the thread below
  }
  pthread_t th;
  if (pthread_create(&th, NULL, idle, NULL) != 0) return 1;
  void* kept[12];
  for (int i = 0; i < 12; ++i) kept[i] = malloc(5151);
  int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 1;
  close(fd);
  pthread_join(th, NULL);
  for (int i = 0; i < 12; ++i) free(kept[i]);
  printf("mode %s handler_calls=%d\n", argv[1], (int)g_calls);
  return 0;
}
