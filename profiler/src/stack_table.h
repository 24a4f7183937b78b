// stack_table.h -- call stacks deduplicated by hash, with per-stack counters.
// Owns: StackRec, one 64-byte slot per distinct stack (= allocation site),
// holding the counters and the lookup key; the slots are dense, in id order,
// so the live ones share few pages and cache lines. The return addresses live
// in a side record in a bump Region. The index is an open-addressing array
// of 32-bit slot ids (id + 1; 0 = empty), read without a lock.
// In front of the index sits a 16 KiB direct-mapped cache of hash -> id that
// stays in the CPU caches: a program's hot sites are found without touching
// the index (every hit is still verified against the slot's key).
// Memory follows the number of stacks (issue 10: a small program must not
// pay for tables sized for a million stacks): the index starts at 4096
// entries (16 KiB) and grows 4x whenever it is half full, up to
// 2^capacity_log2 entries; the slot array is reserved for the maximum but
// committed page by page as ids are issued. Transparent huge pages are
// advised for the index from 2 MiB on, and for the slot array once 32768
// slots (2 MiB) are in use: below that a touched huge page would commit more
// than the table holds.
// Insert (a stack not yet in the table, rare after warm-up): under a
// spinlock, probe again, take an id, fill its slot and side record, store the
// hash with release, then store the id into the index (that publishes it);
// growth rebuilds the index from the slots under the same lock and publishes
// the new array before its mask, so a lock-free reader sees either the old
// mask or the new array, always in bounds; a reader that misses (an old
// array, emptied with MADV_DONTNEED after the switch, reads as zeros) takes
// the lock and probes again.
// Equality is (64-bit hash, depth, flags, innermost pc): two different stacks
// merge only if all four collide (about n^2 / 2^65 for n stacks).
// Never frees a slot. When full (max stacks or region exhausted) events go to
// the overflow slot (id 0, depth 0, flag HS_STACK_OVERFLOW), counted in
// stack_table_full.
// Safety: hook-safe, thread-safe; fork: the insert lock goes through the fork
// gate (fork_gate.h), so fork never copies an insert or a growth half done.
#pragma once
#include <atomic>
#include <stdint.h>

#include "arena.h"
#include "common.h"

namespace hs {
// Side record: sampled counts (sampled mode) and the return addresses.
struct StackPcs {
  std::atomic<uint64_t> sampled_inuse{0};
  std::atomic<uint64_t> sampled_alloc{0};
  uintptr_t pcs[];  // innermost first
};

struct alignas(64) StackRec {
  // Cumulative counters, relaxed atomics: an allocation adds to alloc_*, a
  // free to free_* (two atomic adds per event); in use = alloc - free, read
  // free first (see site_figures). In sampled mode *_count are estimates in
  // fixed point (kCountFpShift) and *_bytes are estimates; in full mode exact.
  std::atomic<uint64_t> alloc_bytes{0};
  std::atomic<uint64_t> alloc_count{0};
  std::atomic<uint64_t> free_bytes{0};
  std::atomic<uint64_t> free_count{0};
  std::atomic<uint64_t> hash{0};  // 0: unused slot (a lost insert race); published last
  uintptr_t first_pc = 0;
  uint32_t id = 0;  // dense index, in issue order
  uint16_t depth = 0;
  uint16_t flags = 0;  // enum hs_stack_flags
  StackPcs* side = nullptr;

  const uintptr_t* pcs() const { return side ? side->pcs : nullptr; }
};
static_assert(sizeof(StackRec) == 64, "a stack slot is one cache line");

uint64_t hash_stack(const uintptr_t* pcs, uint32_t depth, uint32_t flags);

class StackTable {
 public:
  // 2^capacity_log2 index entries (4 bytes each); at most half are filled,
  // which is also the number of slots reserved. region_bytes: address space
  // for the side records.
  bool init(uint32_t capacity_log2 = 21, size_t region_bytes = (size_t)1 << 31);
  // fork (control.cpp, after fork_gate_close): returns once no insert runs.
  void wait_unlocked() const;
  // fork, in the child: frees the insert lock if a thread that met the gate held it.
  void clear_held_after_fork();
  // Index entries now (grows up to 2^capacity_log2).
  uint64_t index_capacity() const { return mask_.load(std::memory_order_acquire) + 1; }
  bool ready() const { return slots_ != nullptr; }

  // Returns the slot for this stack, inserting it if new; never nullptr once
  // ready (the overflow slot when full).
  StackRec* intern(const uintptr_t* pcs, uint32_t depth, uint32_t flags);

  // Compact reference (the slot id) used by the live table.
  uint32_t ref_of(const StackRec* r) const { return (uint32_t)(r - slots_); }
  StackRec* from_ref(uint32_t ref) const { return slots_ + ref; }

  uint32_t ids_issued() const {
    uint32_t n = next_id_.load(std::memory_order_acquire);
    return n < slot_count_ ? n : slot_count_;
  }
  // nullptr for an id whose slot is not (or never) published.
  StackRec* by_id(uint32_t id) const {
    StackRec* s = slots_ + id;
    return s->hash.load(std::memory_order_acquire) ? s : nullptr;
  }
  StackRec* overflow() const { return slots_; }
  uint32_t max_stacks() const { return max_stacks_; }

 private:
  StackRec* insert(const uintptr_t* pcs, uint32_t depth, uint32_t flags, uint64_t h, std::atomic<uint32_t>& hot);
  bool grow_index();  // under lock_
  void lock();
  void unlock();

  StackRec* slots_ = nullptr;  // slot_count_ slots; id 0 is the overflow slot
  std::atomic<std::atomic<uint32_t>*> index_{nullptr};
  std::atomic<uint64_t> mask_{0};
  static constexpr uint32_t kHotEntries = 4096;
  std::atomic<uint32_t> hot_[kHotEntries] = {};  // id + 1; 0 = empty
  uint32_t slot_count_ = 0;
  uint64_t max_mask_ = 0;
  uint32_t max_stacks_ = 0;
  bool slots_huge_ = false;
  std::atomic<uint32_t> next_id_{0};
  std::atomic<uint32_t> lock_{0};
  Region region_;
};
extern StackTable g_stacks;
}  // namespace hs
