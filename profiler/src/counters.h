// counters.h -- the profiler's own figures written to the STATS section.
// Owns: process-wide relaxed atomic counters. Safety: hook-safe, lock-free.
// hook_calls is batched per thread (thread_state.h) to keep the hot path free
// of a shared cache line, so it lags by < 256 calls per thread.
#pragma once
#include <atomic>
#include <stdint.h>

namespace hs {
struct Counters {
  std::atomic<uint64_t> hook_calls{0};
  std::atomic<uint64_t> before_start_blocks{0};
  std::atomic<uint64_t> before_start_bytes{0};
  std::atomic<uint64_t> unknown_frees{0};
  std::atomic<uint64_t> truncated_stacks{0};
  std::atomic<uint64_t> unwind_failures{0};
  std::atomic<uint64_t> dropped_events{0};
  std::atomic<uint64_t> stack_table_full{0};
  std::atomic<uint64_t> threads_seen{0};
  std::atomic<uint64_t> signal_handler_replaced{0};
  std::atomic<uint64_t> free_count{0};  // tracked frees (TOTALS.free_count)
  std::atomic<uint64_t> snapshots_written{0};
  std::atomic<uint64_t> snapshot_failures{0};
};
extern Counters g_counters;

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
}  // namespace hs
