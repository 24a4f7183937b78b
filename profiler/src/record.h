// record.h -- allocation and free accounting, called by the hooks.
// Owns: the decision to record (run state, heapscope_stop, sampling), stack
// capture into a fixed on-stack array, interning, the live table insert or
// erase, and the per-stack counters.
// Safety: hook-safe. No global lock: the only lock is one live-table shard
// spinlock, taken after the stack was captured. Preserves errno. Callers
// must not hold the re-entry guard (guarded calls are forwarded unrecorded).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "config.h"
#include "counters.h"
#include "live_table.h"
#include "sampler.h"
#include "thread_state.h"

namespace hs {
HS_NOINLINE void record_alloc_slow(void* p, size_t size, uintptr_t ra, uintptr_t fp);
HS_NOINLINE void record_free_slow(void* p);
HS_NOINLINE bool control_start_early();  // control.h

// HOT PATH: after every successful allocation. Budget in full mode: a TLS
// counter, two relaxed loads, then the slow path (capture, intern, insert,
// four relaxed adds). In sampled mode unsampled blocks stop at the sampler's
// TLS subtract.
// ra, fp: the hook's return address and frame address (see capture.h).
HS_INLINE void record_alloc(void* p, size_t size, uintptr_t ra, uintptr_t fp) {
  ThreadState& t = tls;
  count_hook_call(t);
  int st = g_run_state.load(std::memory_order_relaxed);
  if (HS_UNLIKELY(st != kActive)) {
    // Before our constructor (another library's constructor ran first):
    // start now, so this block and its free are in the books.
    if (st != kNotStarted) return;
    if (!control_start_early()) {
      bump(g_counters.before_start_blocks);
      bump(g_counters.before_start_bytes, size);
      return;
    }
  }
  if (HS_UNLIKELY(!g_recording.load(std::memory_order_relaxed))) return;
  if (g_cfg.sample_period && !sampler_take(t, size, g_cfg.sample_period)) return;
  record_alloc_slow(p, size, ra, fp);
}

// HOT PATH: before every free is forwarded. Frees are accounted even while
// recording is stopped.
HS_INLINE void record_free(void* p) {
  ThreadState& t = tls;
  count_hook_call(t);
  if (HS_UNLIKELY(g_run_state.load(std::memory_order_relaxed) != kActive)) return;
  if (g_cfg.sample_period && !g_live.maybe_tracked((uintptr_t)p)) return;  // sampled: most frees end here
  record_free_slow(p);
}

// realloc support: take p's entry out before forwarding (the address may be
// reused by another thread as soon as realloc frees it), then either put it
// back (the realloc failed) or account it as freed.
struct Taken {
  bool found;
  LiveInfo info;
};
Taken record_take(void* p);
void record_put_back(void* p, const Taken& t);
void record_release(const Taken& t);

// Folds one live-table entry out of its stack's counters.
void account_free(const LiveInfo& info);

// Current totals summed over all stacks (figures rounded as in a snapshot).
struct Totals {
  uint64_t inuse_bytes, inuse_count, alloc_bytes, alloc_count, free_count;
};
Totals current_totals();
// Per-stack figures as written to a snapshot.
struct SiteFigures {
  uint64_t inuse_bytes, inuse_count, alloc_bytes, alloc_count, sampled_inuse, sampled_alloc;
};
struct StackRec;
SiteFigures site_figures(const StackRec* r);

// Sets up the tables (mmap); false when that failed.
bool record_init();
}  // namespace hs
