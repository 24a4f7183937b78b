/*
 * cancel_in_malloc.c -- a thread with a deferred cancellation request pending
 * allocates and frees 2 million times and returns 42. malloc and free are not
 * cancellation points, so in a plain run the request never acts and the thread
 * finishes; a profiler that calls a cancellation point (read, write, open...)
 * inside the hook gets the thread cancelled in the middle of malloc.
 * stdout: "worker finished" (or "worker cancelled").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int go;
static void* worker(void* a) {
  (void)a;
  while (!go) {
  }
  void* keep[16] = {0};
  for (unsigned i = 0; i < 2000000; i++) {
    free(keep[i % 16]);
    keep[i % 16] = malloc(16 + i % 100);
  }
  for (int k = 0; k < 16; k++) free(keep[k]);
  return (void*)42;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_cancel(t);
  go = 1;
  void* r;
  pthread_join(t, &r);
  printf("worker %s\n", r == PTHREAD_CANCELED ? "cancelled" : r == (void*)42 ? "finished" : "?");
  return 0;
}
