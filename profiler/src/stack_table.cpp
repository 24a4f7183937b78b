// stack_table.cpp -- see stack_table.h. Lock-free; hook-safe.
#include "stack_table.h"

#include <new>
#include <string.h>
#include <sys/mman.h>

#include "counters.h"
#include "hsnap_format.h"

namespace hs {
StackTable g_stacks;

uint64_t hash_stack(const uintptr_t* pcs, uint32_t depth, uint32_t flags) {
  uint64_t h = 0x84222325cbf29ce4ull ^ ((uint64_t)depth << 32 | flags);
  for (uint32_t i = 0; i < depth; ++i) h = (h ^ pcs[i]) * 0x9E3779B97F4A7C15ull + (h >> 31);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h ? h : 1;  // 0 marks an unused slot
}

bool StackTable::init(uint32_t capacity_log2, size_t region_bytes) {
  size_t cap = (size_t)1 << capacity_log2;
  max_stacks_ = (uint32_t)(cap / 2);
  // Threads racing past the max_stacks_ check take a few extra ids: room for them.
  slot_count_ = max_stacks_ + 1024;
  index_ = (std::atomic<uint32_t>*)os_map_huge(cap * sizeof(uint32_t));
  slots_ = (StackRec*)os_map_huge((size_t)slot_count_ * sizeof(StackRec));
  if (!index_ || !slots_ || !region_.init(region_bytes)) {
    slots_ = nullptr;
    return false;
  }
  mask_ = cap - 1;
  StackRec* ov = &slots_[next_id_.fetch_add(1, std::memory_order_relaxed)];
  ov->flags = HS_STACK_OVERFLOW;
  ov->side = new (region_.alloc(sizeof(StackPcs))) StackPcs();
  ov->hash.store(1, std::memory_order_release);
  return true;
}

// HOT PATH (every recorded allocation). Budget: one hash over the pcs, one
// index entry (huge page) and one slot line for a known stack.
StackRec* StackTable::intern(const uintptr_t* pcs, uint32_t depth, uint32_t flags) {
  const uint64_t h = hash_stack(pcs, depth, flags);
  const uintptr_t first = depth ? pcs[0] : 0;
  std::atomic<uint32_t>& hot = hot_[(h >> 40) & (kHotEntries - 1)];
  if (uint32_t e = hot.load(std::memory_order_acquire)) {
    StackRec* s = &slots_[e - 1];
    if (s->hash.load(std::memory_order_relaxed) == h && s->depth == depth && s->flags == flags &&
        s->first_pc == first)
      return s;
  }
  StackRec* fresh = nullptr;
  for (uint64_t i = h & mask_, probes = 0; probes <= mask_; i = (i + 1) & mask_, ++probes) {
    uint32_t e = index_[i].load(std::memory_order_acquire);
    if (e == 0) {
      if (!fresh) {
        if (next_id_.load(std::memory_order_relaxed) >= max_stacks_) break;
        void* mem = region_.alloc(sizeof(StackPcs) + depth * sizeof(uintptr_t));
        if (!mem) break;
        uint32_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
        if (id >= slot_count_) break;
        StackPcs* side = new (mem) StackPcs();
        memcpy(side->pcs, pcs, depth * sizeof(uintptr_t));
        fresh = &slots_[id];
        fresh->first_pc = first;
        fresh->depth = (uint16_t)depth;
        fresh->flags = (uint16_t)flags;
        fresh->side = side;
        fresh->id = id;
        fresh->hash.store(h, std::memory_order_release);
      }
      if (index_[i].compare_exchange_strong(e, fresh->id + 1, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
        hot.store(fresh->id + 1, std::memory_order_release);
        return fresh;
      }
      // Lost the race for this entry: e is the winner's; compare below, and
      // keep `fresh` for the next empty entry.
    }
    StackRec* s = &slots_[e - 1];
    if (s->hash.load(std::memory_order_relaxed) == h && s->depth == depth && s->flags == flags &&
        s->first_pc == first) {
      if (fresh) fresh->hash.store(0, std::memory_order_release);  // unused: readers skip it
      hot.store(e, std::memory_order_release);
      return s;
    }
  }
  if (fresh) fresh->hash.store(0, std::memory_order_release);
  bump(g_counters.stack_table_full);
  return overflow();
}
}  // namespace hs
