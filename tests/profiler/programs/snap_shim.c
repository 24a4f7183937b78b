// snap_shim.c -- preloaded after libheapscope.so (LD_PRELOAD=heapscope:shim),
// so heapscope's hooks forward to it: it raises the snapshot signal inside
// that forward (the re-entry guard is held), then calls glibc's allocator.
//   malloc(4243): raise inside malloc.
//   free(p) where p == snap_shim_raise_in_free_of (set by the program): raise
//   inside free, once.
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>

extern void* __libc_malloc(size_t);
extern void __libc_free(void*);

__attribute__((visibility("default"))) void* snap_shim_raise_in_free_of;

__attribute__((visibility("default"))) void* malloc(size_t n) {
  if (n == 4243) raise(SIGUSR2);
  return __libc_malloc(n);
}

__attribute__((visibility("default"))) void free(void* p) {
  if (p && p == snap_shim_raise_in_free_of) {
    snap_shim_raise_in_free_of = NULL;
    raise(SIGUSR2);
  }
  __libc_free(p);
}
