// api.cpp -- the public C API (include/heapscope/heapscope.h).
// Owns: heapscope_active/snapshot/totals/totals_under/sample_period/start/stop (and their *_impl aliases
// for HEAPSCOPE_WEAK programs) for programs that link or preload the library. Safety: thread-safe; not async-signal-safe.
#include "heapscope/heapscope.h"

#include <errno.h>

#include "common.h"
#include "config.h"
#include "hsnap_format.h"
#include "record.h"
#include "snapshot_writer.h"
#include "stack_table.h"
#include "thread_state.h"

using namespace hs;

extern "C" {
HS_EXPORT int heapscope_active(void) {
  return g_run_state.load() == kActive && g_recording.load(std::memory_order_relaxed) ? 1 : 0;
}

HS_EXPORT int heapscope_snapshot(char* path, size_t len) {
  int st = g_run_state.load();
  if (st != kActive) {
    errno = st == kDisabled ? EPERM : EAGAIN;  // disabled (AT_SECURE or no memory) / not started yet
    return -1;
  }
  Guard guard;
  return write_snapshot(HS_TRIGGER_API, path, len);
}

HS_EXPORT int heapscope_totals(struct heapscope_totals* out) {
  if (!out) {
    errno = EINVAL;
    return -1;
  }
  if (g_run_state.load() != kActive) {
    errno = ENOSYS;
    return -1;
  }
  Totals t = current_totals();
  out->inuse_bytes = t.inuse_bytes;
  out->inuse_count = t.inuse_count;
  out->alloc_bytes = t.alloc_bytes;
  out->alloc_count = t.alloc_count;
  return 0;
}

HS_EXPORT int heapscope_totals_under(const void* caller_pc, struct heapscope_totals* under,
                                     struct heapscope_totals* truncated) {
  if (!caller_pc || !under) {
    errno = EINVAL;
    return -1;
  }
  if (g_run_state.load() != kActive || !g_stacks.ready()) {
    errno = ENOSYS;
    return -1;
  }
  const uintptr_t pc = (uintptr_t)caller_pc;
  struct heapscope_totals in{0, 0, 0, 0}, cut{0, 0, 0, 0};
  const uint32_t n = g_stacks.ids_issued();
  for (uint32_t id = 0; id < n; ++id) {
    const StackRec* r = g_stacks.by_id(id);
    if (!r) continue;
    const uintptr_t* pcs = r->pcs();
    bool through = false;
    for (uint32_t i = 0; pcs && i < r->depth && !through; ++i) through = pcs[i] == pc;
    struct heapscope_totals* to = through ? &in : (r->flags & HS_STACK_TRUNCATED) ? &cut : nullptr;
    if (!to) continue;
    SiteFigures f = site_figures(r);
    to->inuse_bytes += f.inuse_bytes;
    to->inuse_count += f.inuse_count;
    to->alloc_bytes += f.alloc_bytes;
    to->alloc_count += f.alloc_count;
  }
  *under = in;
  if (truncated) *truncated = cut;
  return 0;
}

HS_EXPORT long long heapscope_sample_period(void) {
  if (g_run_state.load() != kActive) {
    errno = ENOSYS;
    return -1;
  }
  return (long long)g_cfg.sample_period;
}

HS_EXPORT void heapscope_start(void) { g_recording.store(true); }
HS_EXPORT void heapscope_stop(void) { g_recording.store(false); }

// The names heapscope.h calls through weak references under HEAPSCOPE_WEAK.
HS_EXPORT int heapscope_active_impl(void) __attribute__((alias("heapscope_active")));
HS_EXPORT int heapscope_snapshot_impl(char* path, size_t len) __attribute__((alias("heapscope_snapshot")));
HS_EXPORT int heapscope_totals_impl(struct heapscope_totals* out) __attribute__((alias("heapscope_totals")));
HS_EXPORT void heapscope_start_impl(void) __attribute__((alias("heapscope_start")));
HS_EXPORT void heapscope_stop_impl(void) __attribute__((alias("heapscope_stop")));
HS_EXPORT int heapscope_totals_under_impl(const void* caller_pc, struct heapscope_totals* under,
                                          struct heapscope_totals* truncated)
    __attribute__((alias("heapscope_totals_under")));
HS_EXPORT long long heapscope_sample_period_impl(void) __attribute__((alias("heapscope_sample_period")));
}
