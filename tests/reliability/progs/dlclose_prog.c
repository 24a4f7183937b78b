/*
 * dlclose_prog.c -- dlopen LIB, call reldl_leak(10) (10 blocks of 4096 bytes
 * stay live), dlclose it (and check it is really gone), then write a snapshot.
 * Usage: dlclose_prog LIB    stdout: "unloaded yes|no", "snapshot PATH|none"
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include "rel_api.h"
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  rel_init();
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "dlclose_prog: dlopen %s: %s\n", argv[1], dlerror()); return 1; }
  void (*leak)(int) = (void (*)(int))dlsym(h, "reldl_leak");
  leak(10);
  dlclose(h);
  printf("unloaded %s\n", dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD) ? "no" : "yes");
  char path[4096];
  if (rel_snapshot(path, sizeof path) == 0) printf("snapshot %s\n", path);
  else printf("snapshot none\n");
  return 0;
}
