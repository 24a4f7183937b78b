/*
 * secure_prog.c -- linked with -lheapscope (not preloaded) and installed
 * setuid-root by the test, then run as nobody: AT_SECURE is set, so
 * heapscope must read no HEAPSCOPE_* variable and write no file.
 * stdout: "at_secure=1", "api_snapshot=-1|0", "done"
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>
#include "heapscope/heapscope.h"
int main(void) {
  printf("at_secure=%lu\n", getauxval(AT_SECURE));
  for (int i = 0; i < 1000; i++) free(malloc(100 + i));
  void* keep = malloc(12345);
  usleep(200000); /* give HEAPSCOPE_INTERVAL / HEAPSCOPE_STATS a chance, were they read */
  char path[4096];
  printf("api_snapshot=%d\n", heapscope_snapshot(path, sizeof path) == 0 ? 0 : -1);
  free(keep);
  printf("done\n");
  return 0;
}
