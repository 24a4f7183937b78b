/*
 * atfork_lib.c -- a library that registers pthread_atfork handlers from its
 * constructor, which runs before heapscope's (a program's NEEDED libraries
 * are initialised before a preloaded one), and allocates in its prepare
 * handler. fork runs prepare handlers in reverse order of registration, so
 * this one runs after heapscope's, which holds every live-table shard; its
 * parent handler (run before heapscope's) also frees a cache the program had
 * it fill, which must leave heapscope's books.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char* g_kept;
static char* g_cache;  /* atfork_lib_fill_cache(); freed by the next fork's parent handler */
static int g_prepared;

static void prepare(void) {
  g_kept = malloc(100);
  if (g_kept) memset(g_kept, 1, 100);
  g_prepared++;
}
static void parent(void) {
  free(g_kept);
  g_kept = NULL;
  free(g_cache);
  g_cache = NULL;
}
static void child(void) { free(g_kept); g_kept = NULL; }

__attribute__((constructor)) static void atfork_lib_init(void) { pthread_atfork(prepare, parent, child); }

int atfork_lib_prepared(void) { return g_prepared; }

void atfork_lib_fill_cache(size_t n) {
  g_cache = malloc(n);
  if (g_cache) memset(g_cache, 2, n);
}
