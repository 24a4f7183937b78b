/*
 * triggers.c -- allocates for SECONDS while taking API snapshots every 20 ms;
 * the test adds interval snapshots (HEAPSCOPE_INTERVAL) and signal snapshots
 * (SIGUSR2 from outside), and exit writes one more. Two copies run at once
 * with the same HEAPSCOPE_OUT prefix.
 * Usage: triggers SECONDS [READY_FILE|-] [STACKS]
 *   STACKS: first keep blocks from that many distinct call stacks (a bigger, slower snapshot).
 * stdout: "api ok N failed M"; stderr: "API PATH" per success.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "rel_api.h"

static void* deep_keep[64];
__attribute__((noinline)) static void deep(int d, int at) {
  volatile int pad = d;
  if (d == at) deep_keep[at] = malloc(32);
  else deep(d + 1, at);
  (void)pad;
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char** argv) {
  double secs = argc > 1 ? atof(argv[1]) : 2;
  rel_init();
  if (argc > 2 && argv[2][0] != '-') { int fd = open(argv[2], O_CREAT | O_WRONLY, 0644); if (fd >= 0) close(fd); }
  int stacks = argc > 3 ? atoi(argv[3]) : 0;
  for (int k = 0; k < stacks && k < 64; k++) deep(0, k);
  void* keep[256] = {0};
  unsigned i = 0;
  int ok = 0, failed = 0;
  double end = now() + secs, next = 0;
  while (now() < end) {
    free(keep[i % 256]);
    keep[i % 256] = malloc(16 + i % 4000);
    i++;
    if (now() >= next) {
      char path[4096];
      if (rel_snapshot(path, sizeof path) == 0) { ok++; fprintf(stderr, "API %s\n", path); }
      else failed++;
      next = now() + 0.02;
    }
  }
  printf("api ok %d failed %d\n", ok > 0 ? 1 : 0, failed);
  for (int k = 0; k < 256; k++) free(keep[k]);
  for (int k = 0; k < 64; k++) free(deep_keep[k]);
  return 0;
}
