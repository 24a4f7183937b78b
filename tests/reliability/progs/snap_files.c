/*
 * snap_files.c -- writes snapshots through heapscope_snapshot() under hostile
 * conditions the test sets up, and reports each result.
 * Usage: snap_files COUNT [--umask OCTAL] [--stacks N] [--plant-fifo TEMPLATE] [--plant-link TEMPLATE TARGET]...
 *   --stacks N: first allocate from N distinct call stacks (up to N frames deep), so that a
 *     snapshot is large (N=300: well over 64 KiB).
 *   TEMPLATE: a path with one %d replaced by this process's pid (planted before the first snapshot).
 * stdout: "snap I rc=R errno=E" per call, "umask unchanged: yes|no", "mode PATH OCTAL" per success.
 * Allocates a little between snapshots; exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rel_api.h"

static void* deep_keep[1000];
__attribute__((noinline)) static void deep(int d, int at) {
  volatile int pad = d;
  if (d == at) deep_keep[at] = malloc(16);
  else deep(d + 1, at);
  (void)pad;
}

int main(int argc, char** argv) {
  int count = argc > 1 ? atoi(argv[1]) : 3;
  rel_init();
  for (int i = 2; i < argc; i++) {
    char path[4096];
    if (strcmp(argv[i], "--stacks") == 0 && i + 1 < argc) {
      int n = atoi(argv[++i]);
      for (int k = 0; k < n && k < 1000; k++) deep(0, k);
    } else if (strcmp(argv[i], "--umask") == 0 && i + 1 < argc) {
      umask((mode_t)strtol(argv[++i], NULL, 8));
    } else if (strcmp(argv[i], "--plant-fifo") == 0 && i + 1 < argc) {
      snprintf(path, sizeof path, argv[++i], (int)getpid());
      if (mkfifo(path, 0644) != 0) { perror(path); return 1; }
    } else if (strcmp(argv[i], "--plant-link") == 0 && i + 2 < argc) {
      snprintf(path, sizeof path, argv[i + 1], (int)getpid());
      if (symlink(argv[i + 2], path) != 0) { perror(path); return 1; }
      i += 2;
    }
  }
  mode_t before = umask(0);
  umask(before);
  void* keep[64];
  for (int i = 0; i < count; i++) {
    keep[i % 64] = malloc(1000 + (size_t)i);
    char path[4096];
    errno = 0;
    int rc = rel_snapshot(path, sizeof path);
    int e = rc ? errno : 0;
    printf("snap %d rc=%d errno=%d\n", i, rc, e);
    if (rc == 0) {
      struct stat st;
      if (lstat(path, &st) == 0) printf("mode %s %o %s\n", path, (unsigned)(st.st_mode & 07777), S_ISREG(st.st_mode) ? "regular" : "not-regular");
      else printf("mode %s missing\n", path);
    }
  }
  mode_t after = umask(0);
  umask(after);
  printf("umask unchanged: %s\n", before == after ? "yes" : "no");
  for (int i = 0; i < count && i < 64; i++) free(keep[i]);
  return 0;
}
