/*
 * heapscope.h -- the public C API of libheapscope (C and C++).
 *
 * Link with -lheapscope (or CMake target heapscope::heapscope) and put it
 * before any other allocator on the link line, or LD_PRELOAD the library.
 *
 * Running where the library is absent: define HEAPSCOPE_WEAK before including
 * this header (opt-in, because Debian's gcc links with --as-needed and weak
 * references by default would let -lheapscope be dropped silently). Then the
 * declarations are weak, and the inline heapscope_*_or_inactive() wrappers
 * below report "not active" (0 / -1 with errno ENOSYS) when no library
 * provides the symbols at run time.
 *
 * Thread safety: every function may be called from any thread. None is
 * async-signal-safe.
 */
#ifndef HEAPSCOPE_HEAPSCOPE_H
#define HEAPSCOPE_HEAPSCOPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HEAPSCOPE_WEAK)
#define HEAPSCOPE_DECL __attribute__((weak))
#else
#define HEAPSCOPE_DECL
#endif

struct heapscope_totals {
  uint64_t inuse_bytes; /* live bytes tracked now (estimates when sampling) */
  uint64_t inuse_count; /* live blocks */
  uint64_t alloc_bytes; /* allocated since start */
  uint64_t alloc_count;
};

/* 1 when the profiler is loaded and tracking, 0 otherwise. */
HEAPSCOPE_DECL int heapscope_active(void);

/* Writes a snapshot now. On success returns 0 and, when path is not NULL,
 * copies the file's path (NUL-terminated, truncated to len) into it.
 * On failure returns -1 and sets errno. */
HEAPSCOPE_DECL int heapscope_snapshot(char *path, size_t len);

/* Fills *out with the current totals; 0 on success, -1 and errno otherwise. */
HEAPSCOPE_DECL int heapscope_totals(struct heapscope_totals *out);

/* Resume / pause recording of new allocations on all threads. Frees of blocks
 * recorded earlier are always accounted. Tracking starts active. */
HEAPSCOPE_DECL void heapscope_start(void);
HEAPSCOPE_DECL void heapscope_stop(void);

#undef HEAPSCOPE_DECL

#if defined(HEAPSCOPE_WEAK)
#include <errno.h>
/* Safe wrappers for programs that may run without the library. */
static inline int heapscope_active_or_inactive(void) {
  return heapscope_active ? heapscope_active() : 0;
}
static inline int heapscope_totals_or_inactive(struct heapscope_totals *out) {
  if (heapscope_totals) return heapscope_totals(out);
  errno = ENOSYS;
  return -1;
}
static inline int heapscope_snapshot_or_inactive(char *path, size_t len) {
  if (heapscope_snapshot) return heapscope_snapshot(path, len);
  errno = ENOSYS;
  return -1;
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* HEAPSCOPE_HEAPSCOPE_H */
