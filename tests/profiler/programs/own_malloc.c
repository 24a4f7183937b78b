/* own_malloc.c -- an executable that defines malloc itself (a bump allocator),
 * so its malloc precedes heapscope's in symbol lookup: heapscope must say so
 * once on stderr and the program must run normally. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static _Alignas(16) char g_arena[8 << 20];
static size_t g_used;

void* malloc(size_t n) {
  size_t at = (g_used + 15) & ~(size_t)15;
  if (at + n + 16 > sizeof g_arena) return NULL;
  *(size_t*)(g_arena + at) = n;
  g_used = at + 16 + n;
  return g_arena + at + 16;
}
void free(void* p) { (void)p; }
void* calloc(size_t n, size_t m) {
  if (m && n > (size_t)-1 / m) return NULL;
  void* p = malloc(n * m);
  if (p) memset(p, 0, n * m);
  return p;
}
void* realloc(void* p, size_t n) {
  void* q = malloc(n);
  if (p && q) {
    size_t old = *(size_t*)((char*)p - 16);
    memcpy(q, p, old < n ? old : n);
  }
  return q;
}

int main(void) {
  char* s = malloc(100);
  strcpy(s, "own malloc works");
  puts(s);
  return 0;
}
