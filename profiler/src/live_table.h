// live_table.h -- live blocks: address -> (size, stack ref).
// Owns: a table sharded 256 ways by pointer hash; each shard is a spinlock
// and an open-addressing array (linear probing, backward-shift deletion) in
// its own array, doubled by rehash at 70% load. 16 bytes per entry. Arrays
// start at 16 entries inside the shard itself, beside its lock and count (an
// insert or erase in a small program writes one page, not two: after a fork
// each page the parent writes is a copy-on-write fault, issue 10), pass
// through a bump region, and from 4 KiB on are mappings of their own.
// In sampled mode an 8 KiB counting filter (8192 saturating 8-bit counters,
// small enough to stay in the CPU caches) answers "certainly not tracked" for
// most frees without touching a shard.
// Safety: hook-safe (mmap only); a shard lock is held only for a probe or a
// rehash and never while calling out. Shard locks go through the fork gate
// (fork_gate.h): fork never copies a shard mid-update and takes no shard.
#pragma once
#include <atomic>
#include <stdint.h>

#include "arena.h"
#include "common.h"
#include "hsnap_format.h"
#include "fork_gate.h"
#include "thread_state.h"

namespace hs {
constexpr int kRefBits = 25;
constexpr uint64_t kMaxTrackedSize = ((uint64_t)1 << (64 - kRefBits)) - 1;  // larger sizes are clamped

struct LiveInfo {
  uint64_t size;
  uint32_t ref;
};

class LiveTable {
 public:
  static constexpr int kShards = 256;
  bool init(bool with_filter);
  // Inserts addr. When addr was already present (a free we never saw) its old
  // info goes to *replaced and the function returns 2; 1 on insert; 0 when
  // memory ran out (nothing inserted).
  int insert(uintptr_t addr, uint64_t size, uint32_t ref, LiveInfo* replaced) {
    return insert_hashed(addr, hash_of(addr), size, ref, replaced);
  }
  // As insert, with h = hash_of(addr) already computed (by prefetch).
  int insert_hashed(uintptr_t addr, uint64_t h, uint64_t size, uint32_t ref, LiveInfo* replaced);
  static uint64_t hash_of(uintptr_t addr);
  // Sampled mode: false when addr is certainly not tracked (one multiply and
  // one load from an 8 KiB array; inlined into the free hook).
  HS_INLINE bool maybe_tracked(uintptr_t addr) const {
    return !filter_on_ || filter_[filter_index(addr)].load(std::memory_order_relaxed) != 0;
  }
  static HS_INLINE uint32_t filter_index(uintptr_t addr) {
    return (uint32_t)(((addr >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - kFilterBits));
  }
  static constexpr int kFilterBits = 13;
  // Removes addr; false when it is not tracked.
  bool erase(uintptr_t addr, LiveInfo* out);
  uint64_t entries() const;
  // Starts loading addr's slot into the cache (called before the stack is
  // captured, so the miss overlaps the unwinding). Never faults.
  // Returns hash_of(addr) for insert_hashed.
  uint64_t prefetch(uintptr_t addr) const;
  // fork (control.cpp, after fork_gate_close): returns once no shard is held.
  void wait_unlocked() const;
  // fork, in the child: frees shards left held by threads that met the gate.
  void clear_held_after_fork();
  // Forgets every entry (heapscope attach starts each generation with empty
  // books). Takes each shard's lock in turn; arrays keep their capacity.
  void clear();

 private:
  struct Entry {
    uintptr_t addr;  // 0 = empty
    uint64_t meta;   // size << kRefBits | ref
  };
  static constexpr uint64_t kFirstCap = 16;
  struct alignas(64) Shard {
    std::atomic<uint32_t> lock{0};
    std::atomic<uint32_t> count{0};
    uint64_t mask = 0;  // capacity - 1; 0 with no array yet
    Entry* slots = nullptr;
    Entry first[kFirstCap] = {};  // the first array (left behind, stale, once outgrown)
  };
  bool grow(Shard& s);
  // Uncontended: one exchange and a load of the fork gate, inlined;
  // otherwise spin then yield (gate_lock_slow).
  static HS_INLINE void lock(Shard& s) { gate_lock(s.lock); }
  static HS_INLINE void unlock(Shard& s) { gate_unlock(s.lock); }

  Shard shards_[kShards];
  Region small_;             // arrays of 32..128 entries
  bool filter_on_ = false;
  // In the object, not behind a pointer: the free hook's lookup is one load
  // from a fixed address, not two dependent ones. Full mode never touches it
  // (its pages stay unallocated but for the one it shares with the fields above).
  alignas(64) std::atomic<uint8_t> filter_[1 << kFilterBits] = {};
};
extern LiveTable g_live;

HS_INLINE uint64_t hash_addr(uintptr_t a) { return hs_mix64(a); }  // murmur3 fmix64 (hsnap_format.h)
HS_INLINE uint64_t LiveTable::hash_of(uintptr_t addr) { return hash_addr(addr); }
}  // namespace hs
