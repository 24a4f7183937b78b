// stack_table.h -- call stacks deduplicated by hash, with per-stack counters.
// Owns: StackRec (one per distinct stack = one allocation site) and the
// lock-free StackTable: an open-addressing array of record pointers in a
// MAP_NORESERVE mapping, filled by CAS; records live in a bump Region and are
// fully written before they are published. Never locks, never frees.
// When full (max stacks or region exhausted) events go to one overflow record
// (depth 0, flag HS_STACK_OVERFLOW) and stack_table_full is counted.
// Safety: hook-safe, thread-safe, fork-safe (no locks to hold).
#pragma once
#include <atomic>
#include <stdint.h>

#include "arena.h"
#include "common.h"

namespace hs {
struct alignas(64) StackRec {
  // Counters, relaxed atomics. In sampled mode *_count_fp are estimates in
  // fixed point (kCountFpShift) and *_bytes are estimates; in full mode the
  // counts are plain counts and sampled_* stay 0 (they equal the counts).
  std::atomic<uint64_t> inuse_bytes{0};
  std::atomic<uint64_t> inuse_count{0};
  std::atomic<uint64_t> alloc_bytes{0};
  std::atomic<uint64_t> alloc_count{0};
  std::atomic<uint64_t> sampled_inuse{0};
  std::atomic<uint64_t> sampled_alloc{0};
  uint64_t hash = 0;
  uint16_t depth = 0;
  uint16_t flags = 0;  // enum hs_stack_flags
  uint32_t id = 0;     // dense index, in issue order
  uintptr_t pcs[];     // depth return addresses, innermost first
};
static_assert(sizeof(StackRec) == 64, "StackRec header is one cache line");

uint64_t hash_stack(const uintptr_t* pcs, uint32_t depth, uint32_t flags);

class StackTable {
 public:
  // capacity_log2 slots; at most half of them are filled. region_bytes is the
  // address space reserved for records (refs are 25 bits of 64-byte units).
  bool init(uint32_t capacity_log2 = 21, size_t region_bytes = (size_t)1 << 31);
  bool ready() const { return slots_ != nullptr; }

  // Returns the record for this stack, inserting it if new; never nullptr
  // once ready (the overflow record when full).
  StackRec* intern(const uintptr_t* pcs, uint32_t depth, uint32_t flags);

  // Compact 25-bit reference used by the live table.
  uint32_t ref_of(const StackRec* r) const { return (uint32_t)(((const char*)r - region_.base()) >> 6); }
  StackRec* from_ref(uint32_t ref) const { return (StackRec*)(region_.base() + ((size_t)ref << 6)); }

  uint32_t ids_issued() const { return next_id_.load(std::memory_order_acquire); }
  // nullptr for an id lost to an insert race or not yet published.
  StackRec* by_id(uint32_t id) const { return by_id_[id].load(std::memory_order_acquire); }
  StackRec* overflow() const { return overflow_; }
  uint32_t max_stacks() const { return max_stacks_; }

 private:
  std::atomic<StackRec*>* slots_ = nullptr;
  std::atomic<StackRec*>* by_id_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t max_stacks_ = 0;
  std::atomic<uint32_t> next_id_{0};
  Region region_;
  StackRec* overflow_ = nullptr;
};
extern StackTable g_stacks;
}  // namespace hs
