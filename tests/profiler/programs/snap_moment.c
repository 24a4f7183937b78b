// snap_moment.c -- a requested snapshot holds the books as they were when the
// request arrived (no helper thread: HEAPSCOPE_THREAD=auto, single thread).
// Usage: snap_moment probe8|bracket|in_malloc|in_free|in_dlopen LIB
//   probe8:    8 live malloc(4242), raise(SIGUSR2), then the 8 frees. The
//              signal's snapshot must hold exactly the 8 blocks.
//   bracket:   raise, 2001 malloc(100) kept, raise, then their frees: the two
//              snapshots differ by exactly 2001 blocks and 200100 bytes.
//   in_malloc: (with snap_shim.so preloaded after heapscope) 8 live
//              malloc(4242), then malloc(4243), inside which the shim raises
//              the signal: the snapshot is written at the end of that hook,
//              so it holds the 8 blocks and the 4243-byte one, and none of the
//              frees that follow.
//   in_free:   the same, but the shim raises inside the forward of the first
//              of the 8 frees (recorded before it is forwarded): 7 blocks.
//   in_dlopen: (with snap_audit.so as LD_AUDIT) dlopen(LIB), whose la_objopen
//              raises the signal while the loader adds LIB (r_state RT_ADD),
//              then raise once more after dlopen returned.
// stdout: "done". Exit 0 unless something failed.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* g_kept[2001];

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: snap_moment probe8|bracket|in_malloc|in_free|in_dlopen LIB\n");
    return 2;
  }
  const char* mode = argv[1];
  if (!strcmp(mode, "probe8") || !strcmp(mode, "in_malloc") || !strcmp(mode, "in_free")) {
    for (int i = 0; i < 8; ++i)
      if (!(g_kept[i] = malloc(4242))) return 1;
    void* extra = NULL;
    if (!strcmp(mode, "probe8")) {
      raise(SIGUSR2);
      usleep(50 * 1000);
    } else if (!strcmp(mode, "in_malloc")) {
      if (!(extra = malloc(4243))) return 1;  // the shim raises inside it
    } else {
      void** arm = (void**)dlsym(RTLD_DEFAULT, "snap_shim_raise_in_free_of");
      if (!arm) {
        fprintf(stderr, "snap_shim.so is not preloaded\n");
        return 1;
      }
      *arm = g_kept[0];
    }
    for (int i = 0; i < 8; ++i) free(g_kept[i]);
    free(extra);
  } else if (!strcmp(mode, "bracket")) {
    raise(SIGUSR2);
    for (int i = 0; i < 2001; ++i)
      if (!(g_kept[i] = malloc(100))) return 1;
    raise(SIGUSR2);
    for (int i = 0; i < 2001; ++i) free(g_kept[i]);
  } else if (!strcmp(mode, "in_dlopen") && argc == 3) {
    void* h = dlopen(argv[2], RTLD_NOW);
    if (!h) {
      fprintf(stderr, "dlopen %s: %s\n", argv[2], dlerror());
      return 1;
    }
    raise(SIGUSR2);
  } else {
    fprintf(stderr, "snap_moment: unknown mode %s\n", mode);
    return 2;
  }
  printf("done\n");
  return 0;
}
