// api.cpp -- the public C API (include/heapscope/heapscope.h).
// Owns: heapscope_active/snapshot/totals/start/stop (and their *_impl aliases
// for HEAPSCOPE_WEAK programs) for programs that link or preload the library. Safety: thread-safe; not async-signal-safe.
#include "heapscope/heapscope.h"

#include <errno.h>

#include "common.h"
#include "config.h"
#include "record.h"
#include "snapshot_writer.h"
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

HS_EXPORT void heapscope_start(void) { g_recording.store(true); }
HS_EXPORT void heapscope_stop(void) { g_recording.store(false); }

// The names heapscope.h calls through weak references under HEAPSCOPE_WEAK.
HS_EXPORT int heapscope_active_impl(void) __attribute__((alias("heapscope_active")));
HS_EXPORT int heapscope_snapshot_impl(char* path, size_t len) __attribute__((alias("heapscope_snapshot")));
HS_EXPORT int heapscope_totals_impl(struct heapscope_totals* out) __attribute__((alias("heapscope_totals")));
HS_EXPORT void heapscope_start_impl(void) __attribute__((alias("heapscope_start")));
HS_EXPORT void heapscope_stop_impl(void) __attribute__((alias("heapscope_stop")));
}
