/*
 * atfork_lib.c -- a library that registers pthread_atfork handlers from its
 * constructor, which runs before heapscope's (a program's NEEDED libraries
 * are initialised before a preloaded one), and allocates in its prepare
 * handler. fork runs prepare handlers in reverse order of registration, so
 * this one runs after heapscope's, which holds every live-table shard.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char* g_kept;
static int g_prepared;

static void prepare(void) {
  g_kept = malloc(100);
  if (g_kept) memset(g_kept, 1, 100);
  g_prepared++;
}
static void parent(void) { free(g_kept); g_kept = NULL; }
static void child(void) { free(g_kept); g_kept = NULL; }

__attribute__((constructor)) static void atfork_lib_init(void) { pthread_atfork(prepare, parent, child); }

int atfork_lib_prepared(void) { return g_prepared; }
