// stack_table.cpp -- see stack_table.h. Lock-free; hook-safe.
#include "stack_table.h"

#include <new>
#include <string.h>
#include <sys/mman.h>

#include "counters.h"
#include "hsnap_format.h"
#include "fork_gate.h"

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

namespace {
constexpr uint32_t kFirstIndexLog2 = 12;     // 4096 entries, 16 KiB
constexpr uint32_t kGrowLog2 = 2;            // 4x per growth
constexpr size_t kHugeBytes = (size_t)2 << 20;
constexpr uint32_t kSlotsHugeAfter = kHugeBytes / sizeof(StackRec);  // 32768 slots

std::atomic<uint32_t>* map_index(uint64_t entries) {
  size_t bytes = (size_t)entries * sizeof(uint32_t);
  if (bytes >= kHugeBytes) return (std::atomic<uint32_t>*)os_map_huge(bytes);
  return (std::atomic<uint32_t>*)os_map(bytes, true);
}

HS_INLINE bool same_stack(const StackRec* s, uint64_t h, uint32_t depth, uint32_t flags, uintptr_t first) {
  return s->hash.load(std::memory_order_relaxed) == h && s->depth == depth && s->flags == flags &&
         s->first_pc == first;
}
}  // namespace

bool StackTable::init(uint32_t capacity_log2, size_t region_bytes) {
  const uint64_t max_cap = (uint64_t)1 << capacity_log2;
  max_stacks_ = (uint32_t)(max_cap / 2);
  slot_count_ = max_stacks_;
  max_mask_ = max_cap - 1;
  const uint64_t cap = (uint64_t)1 << (capacity_log2 < kFirstIndexLog2 ? capacity_log2 : kFirstIndexLog2);
  std::atomic<uint32_t>* index = map_index(cap);
  // Reserved for every slot, committed as ids are issued; huge pages once dense (grow_index).
  slots_ = (StackRec*)os_map_huge((size_t)slot_count_ * sizeof(StackRec), false);
  // The first chunk is small: it stays in the table arena's first zone (arena.cpp).
  if (!index || !slots_ || !region_.init(region_bytes, (size_t)4 << 20, (size_t)128 << 10)) {
    slots_ = nullptr;
    return false;
  }
  index_.store(index, std::memory_order_release);
  mask_.store(cap - 1, std::memory_order_release);
  StackRec* ov = &slots_[next_id_.fetch_add(1, std::memory_order_relaxed)];
  ov->flags = HS_STACK_OVERFLOW;
  ov->side = new (region_.alloc(sizeof(StackPcs))) StackPcs();
  ov->hash.store(1, std::memory_order_release);
  return true;
}

void StackTable::lock() { gate_lock(lock_); }
void StackTable::unlock() { gate_unlock(lock_); }
void StackTable::wait_unlocked() const { gate_wait_free(lock_); }
void StackTable::clear_held_after_fork() { gate_clear_in_child(lock_); }

// HOT PATH (every recorded allocation). Budget: one hash over the pcs, one
// hot-cache entry and one slot line for a known stack; on a hot-cache miss,
// a short probe of the index. Lock-free unless the stack is new.
StackRec* StackTable::intern(const uintptr_t* pcs, uint32_t depth, uint32_t flags) {
  const uint64_t h = hash_stack(pcs, depth, flags);
  const uintptr_t first = depth ? pcs[0] : 0;
  std::atomic<uint32_t>& hot = hot_[(h >> 40) & (kHotEntries - 1)];
  if (uint32_t e = hot.load(std::memory_order_acquire)) {
    StackRec* s = &slots_[e - 1];
    if (same_stack(s, h, depth, flags, first)) return s;
  }
  // The mask first: a new mask comes with its (bigger) array; an old mask
  // with the new array stays in bounds.
  const uint64_t mask = mask_.load(std::memory_order_acquire);
  std::atomic<uint32_t>* index = index_.load(std::memory_order_acquire);
  for (uint64_t i = h & mask, probes = 0; probes <= mask; i = (i + 1) & mask, ++probes) {
    uint32_t e = index[i].load(std::memory_order_acquire);
    if (e == 0) break;
    StackRec* s = &slots_[e - 1];
    if (same_stack(s, h, depth, flags, first)) {
      hot.store(e, std::memory_order_release);
      return s;
    }
  }
  return insert(pcs, depth, flags, h, hot);
}

HS_NOINLINE StackRec* StackTable::insert(const uintptr_t* pcs, uint32_t depth, uint32_t flags, uint64_t h,
                                         std::atomic<uint32_t>& hot) {
  const uintptr_t first = depth ? pcs[0] : 0;
  lock();
  StackRec* found = nullptr;
  for (int attempt = 0; attempt < 2 && !found; ++attempt) {
    const uint64_t mask = mask_.load(std::memory_order_relaxed);
    std::atomic<uint32_t>* index = index_.load(std::memory_order_relaxed);
    uint64_t i = h & mask;
    for (;; i = (i + 1) & mask) {  // under half full: an empty entry ends every probe
      uint32_t e = index[i].load(std::memory_order_relaxed);
      if (e == 0) break;
      if (same_stack(&slots_[e - 1], h, depth, flags, first)) {
        found = &slots_[e - 1];
        break;
      }
    }
    if (found) break;
    const uint32_t id = next_id_.load(std::memory_order_relaxed);
    if (id >= max_stacks_) break;
    // The index holds ids 1..id-1 (the overflow slot 0 is not in it): keep it at most half full.
    if ((uint64_t)id * 2 > mask + 1) {
      if (attempt == 0 && grow_index()) continue;  // probe the new array
      break;
    }
    void* mem = region_.alloc(sizeof(StackPcs) + depth * sizeof(uintptr_t));
    if (!mem) break;
    StackPcs* side = new (mem) StackPcs();
    memcpy(side->pcs, pcs, depth * sizeof(uintptr_t));
    StackRec* fresh = &slots_[id];
    fresh->first_pc = first;
    fresh->depth = (uint16_t)depth;
    fresh->flags = (uint16_t)flags;
    fresh->side = side;
    fresh->id = id;
    fresh->hash.store(h, std::memory_order_release);
    next_id_.store(id + 1, std::memory_order_release);
    index[i].store(id + 1, std::memory_order_release);
    if (!slots_huge_ && id + 1 >= kSlotsHugeAfter) {
      slots_huge_ = true;
      os_advise_huge(slots_, (size_t)slot_count_ * sizeof(StackRec));
    }
    found = fresh;
  }
  unlock();
  if (!found) {
    bump(g_counters.stack_table_full);
    return overflow();
  }
  hot.store(found->id + 1, std::memory_order_release);
  return found;
}

// Under lock_: a 4x bigger array holding every issued id, published before
// its mask; the old array is emptied (readers still probing it see zeros:
// a miss, then the locked probe) but stays mapped.
bool StackTable::grow_index() {
  const uint64_t old_mask = mask_.load(std::memory_order_relaxed);
  if (old_mask >= max_mask_) return false;
  uint64_t cap = (old_mask + 1) << kGrowLog2;
  if (cap > max_mask_ + 1) cap = max_mask_ + 1;
  std::atomic<uint32_t>* fresh = map_index(cap);
  if (!fresh) return false;
  const uint64_t mask = cap - 1;
  const uint32_t n = next_id_.load(std::memory_order_relaxed);
  for (uint32_t id = 1; id < n; ++id) {
    uint64_t j = slots_[id].hash.load(std::memory_order_relaxed) & mask;
    while (fresh[j].load(std::memory_order_relaxed)) j = (j + 1) & mask;
    fresh[j].store(id + 1, std::memory_order_relaxed);
  }
  std::atomic<uint32_t>* old = index_.load(std::memory_order_relaxed);
  index_.store(fresh, std::memory_order_release);
  mask_.store(mask, std::memory_order_release);
  madvise(old, (size_t)(old_mask + 1) * sizeof(uint32_t), MADV_DONTNEED);
  return true;
}
}  // namespace hs
