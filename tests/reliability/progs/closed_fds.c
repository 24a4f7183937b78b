/*
 * closed_fds.c -- a daemon-style program that closes every file descriptor it
 * inherited (3..1023, as closefrom()/close_range() do) and then opens its own
 * files, which get the lowest numbers again -- the numbers heapscope's (and its
 * unwinder's) pipes had. It then allocates at depth (the unwinder runs) and,
 * when heapscope is active, sends itself the snapshot signal. heapscope must not
 * write to, read from or poll the program's files.
 * Usage: closed_fds DIR    stdout: "file I fd F: intact" or "file I fd F: CHANGED ..." per file.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rel_api.h"

#define NFILES 8
static const char content[] = "program data 0123456789";

__attribute__((noinline)) static void* deep(int d) {
  volatile int pad = d;
  void* p = d ? deep(d - 1) : malloc(100);
  (void)pad;
  return p;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  rel_init();
  for (int fd = 3; fd < 1024; fd++) close(fd);
  int fds[NFILES];
  for (int i = 0; i < NFILES; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/file%d", argv[1], i);
    fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fds[i] < 0 || write(fds[i], content, sizeof content - 1) != (ssize_t)(sizeof content - 1)) { perror(path); return 1; }
    lseek(fds[i], 0, SEEK_SET);  /* the program will read its files from the start */
  }
  void* keep[20];
  for (int i = 0; i < 20; i++) keep[i] = deep(i);
  if (rel_p_snapshot) kill(getpid(), SIGUSR2);
  usleep(300000);
  for (int i = 0; i < 20; i++) free(keep[i]);
  for (int i = 0; i < NFILES; i++) {
    char buf[64] = {0};
    off_t off = lseek(fds[i], 0, SEEK_CUR);
    ssize_t n = pread(fds[i], buf, sizeof buf - 1, 0);
    if (off == 0 && n == (ssize_t)(sizeof content - 1) && memcmp(buf, content, sizeof content - 1) == 0)
      printf("file %d fd %d: intact\n", i, fds[i]);
    else
      printf("file %d fd %d: CHANGED offset %ld size %zd first bytes %02x %02x\n", i, fds[i], (long)off, n,
             (unsigned char)buf[0], (unsigned char)buf[1]);
  }
  return 0;
}
