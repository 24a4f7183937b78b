/*
 * heapscope.h -- the public C API of libheapscope (C and C++).
 *
 * Link with -lheapscope (or CMake target heapscope::heapscope) and put it
 * before any other allocator on the link line, or LD_PRELOAD the library.
 *
 * Running where the library is absent: define HEAPSCOPE_WEAK before including
 * this header (opt-in, because Debian's gcc links with --as-needed and weak
 * references by default would let -lheapscope be dropped silently). Then the
 * functions below are static inline functions that call the library
 * through weak references to its exported heapscope_*_impl aliases, and
 * report "not active" when no library provides them at run time:
 * heapscope_active() 0, heapscope_snapshot()/heapscope_totals()/
 * heapscope_totals_under()/heapscope_sample_period() -1 with errno ENOSYS,
 * heapscope_start()/heapscope_stop() do nothing. The
 * heapscope_*_or_inactive() wrappers are the same calls under older names.
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

struct heapscope_totals {
  uint64_t inuse_bytes; /* live bytes tracked now (estimates when sampling) */
  uint64_t inuse_count; /* live blocks */
  uint64_t alloc_bytes; /* allocated since start */
  uint64_t alloc_count;
};

#if !defined(HEAPSCOPE_WEAK)
/* 1 when the profiler is loaded and tracking, 0 otherwise. */
int heapscope_active(void);

/* Writes a snapshot now. On success returns 0 and, when path is not NULL,
 * copies the file's path (NUL-terminated) into it. When path is not NULL and
 * len cannot hold the path and its NUL, returns -1 with errno ERANGE and
 * writes no snapshot. On failure returns -1 and sets errno. */
int heapscope_snapshot(char *path, size_t len);

/* Fills *out with the current totals; 0 on success, -1 and errno otherwise. */
int heapscope_totals(struct heapscope_totals *out);

/* Resume / pause recording of new allocations on all threads. Frees of blocks
 * recorded earlier are always accounted. Tracking starts active. */
void heapscope_start(void);
void heapscope_stop(void);

/* Fills *under with the totals of the live blocks whose recorded call stack
 * passes through the return address caller_pc: what the code called from
 * that call keeps, without the blocks of other threads or of the code around
 * it. A caller gets caller_pc as __builtin_return_address(0) inside a
 * noinline function called from that one call site (heapscope/gtest.h does
 * this). Blocks allocated more than HEAPSCOPE_DEPTH frames below caller_pc
 * have stacks cut before they reach it, so they cannot be attributed: when
 * truncated is not NULL it gets the totals of all cut stacks that do not pass
 * through caller_pc, so a caller can tell. Costs one pass over the distinct
 * stacks. 0 on success; -1 with errno EINVAL (under or caller_pc NULL) or
 * ENOSYS (not active). */
int heapscope_totals_under(const void *caller_pc, struct heapscope_totals *under,
                           struct heapscope_totals *truncated);

/* Mean bytes between sampled allocations (HEAPSCOPE_SAMPLE): 0 when every
 * allocation is tracked and the figures are exact, -1 with errno ENOSYS when
 * the profiler is not active. */
long long heapscope_sample_period(void);

#else /* HEAPSCOPE_WEAK: same semantics, "not active" without the library */
#include <errno.h>
/* Exported by libheapscope as aliases of the functions above. */
extern int heapscope_active_impl(void) __attribute__((weak));
extern int heapscope_snapshot_impl(char *path, size_t len) __attribute__((weak));
extern int heapscope_totals_impl(struct heapscope_totals *out) __attribute__((weak));
extern void heapscope_start_impl(void) __attribute__((weak));
extern void heapscope_stop_impl(void) __attribute__((weak));
extern int heapscope_totals_under_impl(const void *caller_pc, struct heapscope_totals *under,
                                      struct heapscope_totals *truncated) __attribute__((weak));
extern long long heapscope_sample_period_impl(void) __attribute__((weak));

static inline int heapscope_active(void) {
  return heapscope_active_impl ? heapscope_active_impl() : 0;
}
static inline int heapscope_snapshot(char *path, size_t len) {
  if (heapscope_snapshot_impl) return heapscope_snapshot_impl(path, len);
  errno = ENOSYS;
  return -1;
}
static inline int heapscope_totals(struct heapscope_totals *out) {
  if (heapscope_totals_impl) return heapscope_totals_impl(out);
  errno = ENOSYS;
  return -1;
}
static inline void heapscope_start(void) {
  if (heapscope_start_impl) heapscope_start_impl();
}
static inline void heapscope_stop(void) {
  if (heapscope_stop_impl) heapscope_stop_impl();
}
static inline int heapscope_totals_under(const void *caller_pc, struct heapscope_totals *under,
                                         struct heapscope_totals *truncated) {
  if (heapscope_totals_under_impl) return heapscope_totals_under_impl(caller_pc, under, truncated);
  errno = ENOSYS;
  return -1;
}
static inline long long heapscope_sample_period(void) {
  if (heapscope_sample_period_impl) return heapscope_sample_period_impl();
  errno = ENOSYS;
  return -1;
}
/* Older names of the same calls. */
static inline int heapscope_active_or_inactive(void) { return heapscope_active(); }
static inline int heapscope_totals_or_inactive(struct heapscope_totals *out) { return heapscope_totals(out); }
static inline int heapscope_snapshot_or_inactive(char *path, size_t len) { return heapscope_snapshot(path, len); }
#endif

#ifdef __cplusplus
}
#endif

#endif /* HEAPSCOPE_HEAPSCOPE_H */
