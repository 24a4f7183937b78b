/*
 * channel_at_main.c -- the first thing main does: is heapscope's control
 * channel (@heapscope/<pid>) already listening? Under HEAPSCOPE_THREAD=always
 * it must be: the socket is made on the starting thread, before the program
 * runs, so a daemon that closes its descriptors and reopens files at once
 * never races the helper thread's first descriptors for the low numbers.
 * Usage: channel_at_main    stdout: "listening" or "not listening"
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  char want[64], line[512];
  snprintf(want, sizeof want, "@heapscope/%d\n", (int)getpid());
  FILE* f = fopen("/proc/net/unix", "r");
  int found = 0;
  while (f && fgets(line, sizeof line, f)) {
    size_t n = strlen(line), w = strlen(want);
    if (n >= w && strcmp(line + n - w, want) == 0) found = 1;
  }
  if (f) fclose(f);
  puts(found ? "listening" : "not listening");
  return 0;
}
