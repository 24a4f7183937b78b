// thread_state.h -- per-thread hook state in initial-exec TLS.
// Owns: the re-entry guard, the sampler countdown and rng, batched hook-call
// counting, and the cached stack bounds for the frame-pointer walker.
// Safety: initial-exec TLS never allocates (a global-dynamic access can call
// malloc through __tls_get_addr); tests/profiler checks the relocations.
// Zero-initialized; valid for the whole life of the thread (static TLS is part
// of the thread's own block, so C++ thread_local destructors and pthread_key
// destructors that allocate late still find it).
#pragma once
#include <stdint.h>

#include "common.h"

namespace hs {
struct ThreadState {
  int guard;                   // > 0: inside heapscope or forwarding; do not record
  int resolving;               // inside next_resolve(): answer from the bootstrap pool
  int64_t bytes_until_sample;  // sampler countdown (sampled mode)
  uint64_t rng;                // sampler state; 0 = not seeded yet
  uint32_t pending_calls;      // hook calls not yet added to g_counters.hook_calls
  uint32_t seen;               // counted in threads_seen
  uintptr_t stack_lo, stack_hi;  // [lo, hi) of this thread's stack; hi == 0: unknown
  int stack_known;             // 1 known, -1 lookup failed
  volatile int poked;          // set by the snapshot signal handler: serve the request (control.h)
  int fork_owner;              // between fork's prepare and parent/child handlers: this thread
                               // forks, and passes the closed fork gate (fork_gate.h)
  int fork_skipped;            // fork from inside heapscope on this thread: no locks taken
  void* memo;                  // stack_memo block; nullptr not yet, (void*)1 none
};

extern __thread ThreadState tls __attribute__((tls_model("initial-exec")));

// RAII guard: everything allocated while it is held is forwarded, not recorded.
struct Guard {
  HS_INLINE Guard() { ++tls.guard; }
  HS_INLINE ~Guard() { --tls.guard; }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

// Fills t.stack_lo/hi/known once per thread (cold path; see thread_state.cpp).
void learn_stack_bounds(ThreadState& t);

void count_hook_call_slow(ThreadState& t);
HS_INLINE void count_hook_call(ThreadState& t) {
  if (HS_UNLIKELY(++t.pending_calls >= 256)) count_hook_call_slow(t);
}
}  // namespace hs
