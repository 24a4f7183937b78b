// attach_state.cpp -- see attach_state.h.
#include "attach/attach_state.h"

#include "heapinfo.h"

namespace hs {
AttachState g_attach;
void (*g_attach_refresh)() = nullptr;

void attach_take_allocator_figures() {
  if (!g_attach.allocator_figures_pending.exchange(false)) return;
  HeapFigures hf = allocator_figures();
  g_attach.allocator_inuse_bytes.store(hf.known ? hf.used : 0);
}

int attach_stats(AttachStat* out) {
  if (!g_attach.mode.load(std::memory_order_relaxed)) return 0;
  if (g_attach_refresh) g_attach_refresh();
  attach_take_allocator_figures();
  const AttachStat stats[kAttachStats] = {
      {"attach_mode", 1},
      {"attach_generation", g_attach.generation.load(std::memory_order_relaxed)},
      {"attach_time_unix_ms", g_attach.time_unix_ms.load(std::memory_order_relaxed)},
      {"attach_allocator_inuse_bytes", g_attach.allocator_inuse_bytes.load(std::memory_order_relaxed)},
      {"attach_slots_patched", g_attach.slots_patched.load(std::memory_order_relaxed)},
      {"attach_modules_patched", g_attach.modules_patched.load(std::memory_order_relaxed)},
      {"attach_modules_skipped", g_attach.modules_skipped.load(std::memory_order_relaxed)},
  };
  for (int i = 0; i < kAttachStats; ++i) out[i] = stats[i];
  return kAttachStats;
}
}  // namespace hs
