// peak.h -- the high-water mark of the tracked live heap and the peak trigger.
// Owns: the process-wide tracked live total (bytes in full mode, the sampled
// estimate in sampled mode), its high-water mark and when it was reached, the
// threshold at which the peak snapshot PREFIX.PID.peak.hsnap is rewritten
// (HEAPSCOPE_PEAK), and the cold-path memory-limit check of a process with
// no helper thread (memlimit.h).
// Guarantees: g_live_total moves by one relaxed fetch_add/fetch_sub at each
// point the per-stack counters move (record.cpp add_counters/account_free),
// so its values form one total order; peak_inuse_bytes is the exact maximum
// of that sequence (in full mode the exact maximum of the summed live bytes
// at those points). Its time is the time of the raise that set it (two
// threads raising at the same instant may swap their times; the bytes are
// exact). The peak file is written on the thread whose allocation crossed
// the threshold, at the end of that hook (no lock held, the allocator
// returned): on one thread it holds the books exactly at the crossing; other
// threads keep running while it is written.
// Rate limit: a write at level L sets the next threshold to L * (1 + f)
// (L at least 1 MiB), so at most 1 + ceil(ln(peak / 1 MiB) / ln(1 + f))
// peak files are written in a process's life (f = 5%: 142 up to 1 GiB,
// 284 up to 1 TiB), however many allocations it makes, and the last one
// holds at least peak / (1 + f).
// Safety: peak_add/peak_sub are hook-safe (relaxed atomics, one compare);
// peak_raise is hook-safe (CAS loop, clock_gettime); peak_serve is cold.
#pragma once
#include <atomic>
#include <stdint.h>

#include "common.h"

namespace hs {
extern std::atomic<uint64_t> g_live_total;
extern std::atomic<uint64_t> g_peak_bytes;
HS_NOINLINE void peak_raise(uint64_t now);

// HOT PATH: one relaxed add and the one compare against the high-water mark.
HS_INLINE void peak_add(uint64_t n) {
  const uint64_t now = g_live_total.fetch_add(n, std::memory_order_relaxed) + n;
  if (HS_UNLIKELY(now > g_peak_bytes.load(std::memory_order_relaxed))) peak_raise(now);
}
HS_INLINE void peak_sub(uint64_t n) { g_live_total.fetch_sub(n, std::memory_order_relaxed); }

// Sets the first threshold from g_cfg (control_start, before tracking starts).
void peak_init();
// The end of a hook on a thread whose raise crossed the threshold (control.cpp,
// control_serve_requests): writes the peak file and/or checks the memory
// limit (threadless: no helper thread polls it). Called with no lock held
// and the re-entry guard at 0. Cold.
void peak_serve(bool threadless);
// A new attach generation: empty books, a new peak (attach.cpp).
void peak_reset();

struct PeakFigures {
  uint64_t inuse_bytes;     // the high-water mark
  uint64_t uptime_ns;       // CLOCK_MONOTONIC since the profiler started, when it was reached
  uint64_t unix_ns;         // the same in CLOCK_REALTIME (now minus the monotonic time since)
  uint64_t snapshots;       // peak files written
  uint64_t snapshot_bytes;  // tracked live bytes in the last peak file (0: none yet)
};
// start_ns: the writer's CLOCK_MONOTONIC start time. Async-signal-safe.
PeakFigures peak_figures(uint64_t start_ns);
}  // namespace hs
