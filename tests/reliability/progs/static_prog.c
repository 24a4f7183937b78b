/* static_prog.c -- a statically linked program: LD_PRELOAD cannot reach it.
 * Used by the fork test (exec of a non-profiled binary) and the static-binary
 * test of `heapscope run`. Prints one line; exit 0. */
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  char* p = malloc(100);
  snprintf(p, 100, "static: child ran");
  puts(p);
  free(p);
  return 0;
}
