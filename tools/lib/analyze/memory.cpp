// memory.cpp -- what RSS is made of. See memory.h. Pure; thread-safe.
#include "analyze/memory.h"

#include <algorithm>

namespace heapscope {

MemoryComposition memory_composition(const Profile& p) {
  MemoryComposition c;
  const MemoryStats& m = p.memory;
  c.live_heap = p.totals.inuse_bytes > 0 ? uint64_t(p.totals.inuse_bytes) : 0;
  if (!m.rss_anon_bytes || !m.rss_file_bytes || !m.rss_shmem_bytes) return c;
  c.present = true;
  auto it = p.meta.find("allocator");
  if (it != p.meta.end() && it->second != "unknown") c.allocator = it->second;
  c.anon = *m.rss_anon_bytes;
  c.file = *m.rss_file_bytes;
  c.shmem = *m.rss_shmem_bytes;
  c.files = c.file + c.shmem;
  c.thread_stacks = m.thread_stacks.value_or(0);
  c.allocator_figures = m.allocator_figures;
  c.rss = c.anon + c.files;
  uint64_t left = c.anon, asked = 0;
  auto take = [&](uint64_t want) {
    uint64_t got = std::min(want, left);
    left -= got;
    asked += want;
    return got;
  };
  c.allocator_known = m.allocator_inuse_bytes && m.allocator_free_held_bytes;
  if (c.allocator_known) {
    c.heap_in_use = take(*m.allocator_inuse_bytes);
    c.held_free = take(*m.allocator_free_held_bytes);
  }
  c.stacks_known = m.thread_stack_bytes.has_value();
  if (c.stacks_known) c.stacks = take(*m.thread_stack_bytes);
  c.other_anon = left;
  c.not_resident = asked - (c.heap_in_use + c.held_free + c.stacks);
  return c;
}

}  // namespace heapscope
