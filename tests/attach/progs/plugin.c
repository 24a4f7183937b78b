/* plugin.c -- a module the attach tests' ledger dlopens after the attach (built
 * twice: libattplugin.so, found by bare name through the ledger's RUNPATH, and
 * libattplugin_abs.so, opened by absolute path). Its blocks are made at
 * plugin_site through its own PLT slot of malloc, which the attach must patch
 * when the module is loaded.
 */
#include <stdlib.h>

#define MAX 4096
static void* blocks[MAX];
static int count;

__attribute__((noinline)) void* plugin_site(size_t n) { return malloc(n); }

int plugin_make(int n) {
  for (int i = 0; i < n && count < MAX; ++i) blocks[count++] = plugin_site(80);
  return count;
}

int plugin_free_all(void) {
  int k = count;
  while (count) free(blocks[--count]);
  return k;
}
