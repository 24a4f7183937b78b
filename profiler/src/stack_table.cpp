// stack_table.cpp -- see stack_table.h. Lock-free; hook-safe.
#include "stack_table.h"

#include <new>
#include <string.h>

#include "counters.h"
#include "hsnap_format.h"

namespace hs {
StackTable g_stacks;

uint64_t hash_stack(const uintptr_t* pcs, uint32_t depth, uint32_t flags) {
  uint64_t h = 0x84222325cbf29ce4ull ^ ((uint64_t)depth << 32 | flags);
  for (uint32_t i = 0; i < depth; ++i) {
    h ^= pcs[i];
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

bool StackTable::init(uint32_t capacity_log2, size_t region_bytes) {
  size_t cap = (size_t)1 << capacity_log2;
  max_stacks_ = (uint32_t)(cap / 2);
  if (region_bytes > ((size_t)1 << 31)) region_bytes = (size_t)1 << 31;  // 25-bit refs
  slots_ = (std::atomic<StackRec*>*)os_map(cap * sizeof(void*), true);
  by_id_ = (std::atomic<StackRec*>*)os_map((size_t)max_stacks_ * 2 * sizeof(void*), true);
  if (!slots_ || !by_id_ || !region_.init(region_bytes)) {
    slots_ = nullptr;
    return false;
  }
  mask_ = cap - 1;
  overflow_ = new (region_.alloc(sizeof(StackRec))) StackRec();
  overflow_->flags = HS_STACK_OVERFLOW;
  uint32_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  overflow_->id = id;
  by_id_[id].store(overflow_, std::memory_order_release);
  return true;
}

static bool same(const StackRec* r, uint64_t h, const uintptr_t* pcs, uint32_t depth, uint32_t flags) {
  return r->hash == h && r->depth == depth && r->flags == flags && memcmp(r->pcs, pcs, depth * sizeof(uintptr_t)) == 0;
}

StackRec* StackTable::intern(const uintptr_t* pcs, uint32_t depth, uint32_t flags) {
  const uint64_t h = hash_stack(pcs, depth, flags);
  StackRec* fresh = nullptr;
  for (uint64_t i = h & mask_, probes = 0; probes <= mask_; i = (i + 1) & mask_, ++probes) {
    StackRec* r = slots_[i].load(std::memory_order_acquire);
    if (!r) {
      if (!fresh) {
        // Build the record completely before anyone can see it.
        if (next_id_.load(std::memory_order_relaxed) >= max_stacks_) break;
        void* mem = region_.alloc(sizeof(StackRec) + depth * sizeof(uintptr_t));
        if (!mem) break;
        fresh = new (mem) StackRec();
        fresh->hash = h;
        fresh->depth = (uint16_t)depth;
        fresh->flags = (uint16_t)flags;
        memcpy(fresh->pcs, pcs, depth * sizeof(uintptr_t));
        fresh->id = next_id_.fetch_add(1, std::memory_order_relaxed);
        if (fresh->id >= max_stacks_ * 2) break;
      }
      if (slots_[i].compare_exchange_strong(r, fresh, std::memory_order_acq_rel, std::memory_order_acquire)) {
        by_id_[fresh->id].store(fresh, std::memory_order_release);
        return fresh;
      }
      // Lost the race: r is the winner's record; compare with it below. Our
      // record (and its id) is abandoned: a few bytes, only under contention.
    }
    if (same(r, h, pcs, depth, flags)) return r;
  }
  bump(g_counters.stack_table_full);
  return overflow_;
}
}  // namespace hs
