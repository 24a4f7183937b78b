/*
 * rel_api.h -- how the reliability test programs reach heapscope and the
 * counting shim without linking either: dlsym(RTLD_DEFAULT) at call time, so
 * the same binary runs plain (calls report "absent") and preloaded.
 * Safety: the lookups themselves may allocate once (dlsym); call rel_init()
 * before any measured region.
 */
#ifndef REL_API_H
#define REL_API_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "heapscope/heapscope.h"

typedef int (*rel_totals_fn)(struct heapscope_totals*);
typedef int (*rel_snapshot_fn)(char*, size_t);
typedef void (*rel_counts_fn)(uint64_t[3]);
static rel_totals_fn rel_p_totals;
static rel_snapshot_fn rel_p_snapshot;
static rel_counts_fn rel_p_counts;

static inline void rel_init(void) {
  rel_p_totals = (rel_totals_fn)dlsym(RTLD_DEFAULT, "heapscope_totals");
  rel_p_snapshot = (rel_snapshot_fn)dlsym(RTLD_DEFAULT, "heapscope_snapshot");
  rel_p_counts = (rel_counts_fn)dlsym(RTLD_DEFAULT, "countshim_counts");
}
/* heapscope's totals, or all zero when it is absent. */
static inline void rel_totals(struct heapscope_totals* t) {
  memset(t, 0, sizeof *t);
  if (rel_p_totals) rel_p_totals(t);
}
/* -1 and ENOSYS when heapscope is absent. */
static inline int rel_snapshot(char* path, size_t len) {
  if (!rel_p_snapshot) { errno = ENOSYS; if (path && len) path[0] = 0; return -1; }
  return rel_p_snapshot(path, len);
}
/* countshim's allocs, alloc_bytes, frees, or zeros when it is absent. */
static inline void rel_counts(uint64_t c[3]) {
  c[0] = c[1] = c[2] = 0;
  if (rel_p_counts) rel_p_counts(c);
}
#endif
