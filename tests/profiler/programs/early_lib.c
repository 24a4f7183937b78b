// early_lib.c -- a DT_NEEDED library of hs_prog_early whose constructor runs
// before heapscope's (the dynamic linker initialises a program's libraries
// before the preloaded one): it allocates 40 blocks of 3217 bytes it keeps
// and 25 of 3218 that early_release() frees later.
#include <stdlib.h>

static void* g_kept[40];
static void* g_later[25];

__attribute__((constructor)) static void early_allocate(void) {
  for (int i = 0; i < 40; ++i) g_kept[i] = malloc(3217);
  for (int i = 0; i < 25; ++i) g_later[i] = malloc(3218);
}

int early_release(void) {
  int n = 0;
  for (int i = 0; i < 25; ++i) n += g_later[i] != 0, free(g_later[i]), g_later[i] = 0;
  for (int i = 0; i < 40; ++i) n += g_kept[i] != 0;
  return n;
}
