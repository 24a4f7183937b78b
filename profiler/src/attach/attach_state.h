// attach_state.h -- what every snapshot of an attached process says about the
// attach (in the heapscope_core library, so the snapshot writer can read it).
// Owns: the attach figures (mode, generation, time, the allocator's own live
// bytes at the attach, slots and modules patched or skipped) and the STATS
// names they are written under.
// Safety: written by the attach agent (attach.cpp) under its mutex before
// the run state turns active; read by the snapshot writer. Relaxed atomics.
#pragma once
#include <atomic>
#include <stdint.h>

namespace hs {
struct AttachState {
  std::atomic<uint64_t> mode{0};  // 1 while this process is tracked by `heapscope attach`
  std::atomic<uint64_t> generation{0};       // attaches so far (1 = first)
  std::atomic<uint64_t> time_unix_ms{0};     // wall clock of the current attach
  std::atomic<uint64_t> allocator_inuse_bytes{0};  // mallinfo2 (or jemalloc) in-use bytes at the attach
  std::atomic<uint64_t> slots_patched{0};    // GOT/PLT slots pointing at heapscope now
  std::atomic<uint64_t> modules_patched{0};  // modules with at least one such slot
  std::atomic<uint64_t> modules_skipped{0};  // the dynamic loader, the vdso, heapscope itself
  std::atomic<bool> allocator_figures_pending{false};  // allocator_inuse_bytes not taken yet
};
extern AttachState g_attach;

struct AttachStat {
  const char* name;
  uint64_t value;
};
constexpr int kAttachStats = 7;
// Fills out[kAttachStats] and returns kAttachStats in attach mode; 0 otherwise.
// Called by the snapshot writer; runs the attach's refresh hook first
// (patches modules loaded since, see attach.cpp).
int attach_stats(AttachStat* out);
// Takes allocator_inuse_bytes now if it is still pending (cold path: mallinfo2).
void attach_take_allocator_figures();
// Set by the agent: called at each snapshot (cold path, guard held).
extern void (*g_attach_refresh)();
}  // namespace hs
