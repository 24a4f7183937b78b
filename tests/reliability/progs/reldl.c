/* reldl.c -- a library the dlclose test loads, calls and unloads: reldl_leak()
 * allocates blocks that stay live after the library is gone, so the snapshot
 * must still name this function (the module list keeps unloaded modules). */
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) void reldl_leak(int n) {
  for (int i = 0; i < n; i++) {
    char* p = malloc(4096);
    memset(p, i, 16);
    __asm__ volatile("" : : "r"(p) : "memory");
  }
}
