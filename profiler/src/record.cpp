// record.cpp -- see record.h.
#include "record.h"

#include <errno.h>

#include "capture.h"
#include "control.h"
#include "log.h"
#include "peak.h"
#include "stack_memo.h"
#include "hsnap_format.h"
#include "stack_table.h"

namespace hs {
Config g_cfg;
std::atomic<int> g_run_state{kNotStarted};
std::atomic<bool> g_recording{true};

bool record_init() {
  return g_stacks.init() && g_live.init(g_cfg.sample_period != 0);
}

static HS_INLINE void add_counters(StackRec* r, uint64_t size) {
  constexpr auto rl = std::memory_order_relaxed;
  if (!g_cfg.sample_period) {
    r->alloc_bytes.fetch_add(size, rl);
    r->alloc_count.fetch_add(1, rl);
    peak_add(size);  // the process's live total and its one compare (peak.h)
    return;
  }
  SampleWeight w = sample_weight(size, g_cfg.sample_period);
  r->alloc_bytes.fetch_add(w.bytes, rl);
  peak_add(w.bytes);
  r->alloc_count.fetch_add(w.count_fp, rl);
  r->side->sampled_inuse.fetch_add(1, rl);
  r->side->sampled_alloc.fetch_add(1, rl);
}

void account_free(const LiveInfo& info) {
  constexpr auto rl = std::memory_order_relaxed;
  StackRec* r = g_stacks.from_ref(info.ref);
  if (!g_cfg.sample_period) {
    r->free_bytes.fetch_add(info.size, rl);
    r->free_count.fetch_add(1, rl);
    peak_sub(info.size);
    return;
  }
  SampleWeight w = sample_weight(info.size, g_cfg.sample_period);
  r->free_bytes.fetch_add(w.bytes, rl);
  peak_sub(w.bytes);
  r->free_count.fetch_add(w.count_fp, rl);
  r->side->sampled_inuse.fetch_sub(1, rl);
}

// HEAPSCOPE_UNWIND=check: a memo hit must give the stack a fresh walk gives.
static HS_NOINLINE StackRec* memo_checked(StackRec* memo, uintptr_t ra, uintptr_t fp) {
  static std::atomic<int> reported{0};
  const uint32_t max = g_cfg.depth;
  uintptr_t buf[max + kCaptureSkip];
  CaptureResult c = capture_stack(buf, max, ra, fp, Unwinder::cfi);
  StackRec* fresh = g_stacks.intern(c.pcs, c.depth, c.truncated ? HS_STACK_TRUNCATED : 0);
  if (fresh != memo && reported.fetch_add(1) < 20)
    log_line("unwind check: the stack memo returned stack %u, a fresh walk gives %u", memo->id, fresh->id);
  return fresh;
}

void record_alloc_slow(void* p, size_t size, uintptr_t ra, uintptr_t fp) {
  ThreadState& t = tls;
  int saved_errno = errno;
  Guard guard;  // the unwinder and pthread_getattr_np may allocate
  if (HS_UNLIKELY(!t.seen)) {
    t.seen = 1;
    bump(g_counters.threads_seen);
  }
  const uint64_t live_hash = g_live.prefetch((uintptr_t)p);  // overlaps the cache miss with the unwinding
  // No memo inside a fork handler: its pool lock is held (control.cpp).
  const bool cfi = (g_cfg.unwinder == Unwinder::cfi || g_cfg.unwinder == Unwinder::check) && fp &&
                   ((const uintptr_t*)fp)[1] == ra && !t.fork_owner;
  // A remembered stack whose every input word is unchanged: no walk at all.
  StackRec* r = cfi ? memo_lookup(t, fp, ra) : nullptr;
  if (r && g_cfg.unwinder == Unwinder::check) r = memo_checked(r, ra, fp);
  if (r) {
    if (r->flags & HS_STACK_TRUNCATED) bump(g_counters.truncated_stacks);
  } else {
    const uint32_t max = g_cfg.depth;
    uintptr_t buf[max + kCaptureSkip];  // fixed array on the stack: no lock held yet
    uintptr_t log_addr[kMemoWords], log_val[kMemoWords];
    ReadLog log{log_addr, log_val, 0, kMemoWords, false};
    CaptureResult c = capture_stack(buf, max, ra, fp, g_cfg.unwinder, cfi ? &log : nullptr);
    if (HS_UNLIKELY(c.depth == 0)) bump(g_counters.unwind_failures);
    if (c.truncated) bump(g_counters.truncated_stacks);
    r = g_stacks.intern(c.pcs, c.depth, c.truncated ? HS_STACK_TRUNCATED : 0);
    if (c.by_cfi && !log.overflow) memo_store(t, fp, ra, log, r);
  }
  if (size > kMaxTrackedSize) size = kMaxTrackedSize;
  LiveInfo old;
  int ins = g_live.insert_hashed((uintptr_t)p, live_hash, size, g_stacks.ref_of(r), &old);
  if (HS_UNLIKELY(ins == 0)) {
    bump(g_counters.dropped_events);
  } else {
    if (HS_UNLIKELY(ins == 2)) account_free(old);  // its free went unseen
    add_counters(r, size);
  }
  errno = saved_errno;
}

// The live table's shard locks are only ever held with the re-entry guard up:
// a signal handler that interrupts this thread there and allocates gets its
// block forwarded unrecorded instead of spinning on a shard this thread holds,
// and a fork from such a handler knows not to take the locks (control.cpp).
void record_free_slow(void* p) {
  Guard guard;
  LiveInfo info;
  if (g_live.erase((uintptr_t)p, &info)) account_free(info);
  else if (!g_cfg.sample_period) bump(g_counters.unknown_frees);
}

Taken record_take(void* p) {
  Taken t{false, {0, 0}};
  count_hook_call(tls);
  if (g_run_state.load(std::memory_order_relaxed) != kActive) return t;
  // As record_free (erase would ask the filter too, after the guard and the hash).
  if (g_cfg.sample_period && !g_live.maybe_tracked((uintptr_t)p)) return t;
  Guard guard;  // see record_free_slow
  t.found = g_live.erase((uintptr_t)p, &t.info);
  if (!t.found && !g_cfg.sample_period) bump(g_counters.unknown_frees);
  return t;
}

void record_put_back(void* p, const Taken& t) {
  if (!t.found) return;
  Guard guard;  // see record_free_slow
  LiveInfo old;
  if (g_live.insert((uintptr_t)p, t.info.size, t.info.ref, &old) == 0) {
    account_free(t.info);  // cannot track it any more: drop it from the books
    bump(g_counters.dropped_events);
  }
}

void record_release(const Taken& t) {
  if (t.found) account_free(t.info);
}

SiteFigures site_figures(const StackRec* r) {
  // Frees are read before allocations: a block's free is counted after its
  // allocation, so this order never sees more frees than allocations.
  constexpr auto acq = std::memory_order_acquire;
  const uint64_t fb = r->free_bytes.load(acq), fc = r->free_count.load(acq);
  const uint64_t ab = r->alloc_bytes.load(acq), ac = r->alloc_count.load(acq);
  SiteFigures f;
  f.alloc_bytes = ab;
  f.inuse_bytes = ab - fb;
  if (!g_cfg.sample_period) {
    f.inuse_count = f.sampled_inuse = ac - fc;
    f.alloc_count = f.sampled_alloc = ac;
  } else {
    // Round the fixed-point counts the same way for alloc and free, so a
    // site whose blocks were all freed shows exactly 0 in use.
    const uint64_t half = (uint64_t)1 << (kCountFpShift - 1);
    f.alloc_count = (ac + half) >> kCountFpShift;
    f.inuse_count = ((ac - fc) + half) >> kCountFpShift;
    f.sampled_inuse = r->side->sampled_inuse.load(std::memory_order_relaxed);
    f.sampled_alloc = r->side->sampled_alloc.load(std::memory_order_relaxed);
  }
  return f;
}

Totals current_totals() {
  Totals t{0, 0, 0, 0, 0};
  if (!g_stacks.ready()) return t;
  uint32_t n = g_stacks.ids_issued();
  for (uint32_t id = 0; id < n; ++id) {
    const StackRec* r = g_stacks.by_id(id);
    if (!r || (r->flags & HS_STACK_MAPPED)) continue;  // heap only: mappings are their own kind
    SiteFigures f = site_figures(r);
    t.inuse_bytes += f.inuse_bytes;
    t.inuse_count += f.inuse_count;
    t.alloc_bytes += f.alloc_bytes;
    t.alloc_count += f.alloc_count;
  }
  t.free_count = t.alloc_count - t.inuse_count;
  return t;
}
}  // namespace hs
