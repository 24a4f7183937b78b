// live_table.cpp -- see live_table.h.
#include "live_table.h"

#include "arena.h"

namespace hs {
LiveTable g_live;

namespace {
// A shard starts with its own 16 entries (256 bytes, in the shard: a small
// program's few hundred live blocks touch the shards' 20 pages and nothing
// else). Arrays under a page (32..128 entries) come from a bump region and
// are left there when outgrown (at most 3.75 KiB per shard); from 256 entries
// (4 KiB) on, each array is a mapping of its own, unmapped when outgrown.
constexpr uint64_t kMappedCap = 256;
inline uint32_t shard_of(uint64_t h) { return (uint32_t)(h & 255); }
inline uint64_t slot_of(uint64_t h) { return h >> 8; }
// Saturating counters: 255 is sticky (the bucket then always answers
// "maybe"), so a count can never wrap and hide a tracked block.
void filter_add(std::atomic<uint8_t>& c) {
  uint8_t v = c.load(std::memory_order_relaxed);
  while (v != 255 && !c.compare_exchange_weak(v, (uint8_t)(v + 1), std::memory_order_relaxed)) {
  }
}
void filter_sub(std::atomic<uint8_t>& c) {
  uint8_t v = c.load(std::memory_order_relaxed);
  while (v != 255 && v != 0 && !c.compare_exchange_weak(v, (uint8_t)(v - 1), std::memory_order_relaxed)) {
  }
}
}  // namespace

bool LiveTable::init(bool with_filter) {
  if (!small_.init((size_t)1 << 20, (size_t)128 << 10)) return false;
  filter_on_ = with_filter;
  if (with_filter) self_memory_add(sizeof filter_);  // in .bss, but ours: counted like the mappings
  return true;
}

void LiveTable::wait_unlocked() const {
  for (const Shard& s : shards_) gate_wait_free(s.lock);
}
void LiveTable::clear_held_after_fork() {
  for (Shard& s : shards_) gate_clear_in_child(s.lock);
}

void LiveTable::clear() {
  for (Shard& s : shards_) {
    lock(s);
    for (uint64_t i = 0; s.slots && i <= s.mask; ++i) s.slots[i] = Entry{0, 0};
    s.count.store(0, std::memory_order_relaxed);
    unlock(s);
  }
  for (auto& c : filter_) c.store(0, std::memory_order_relaxed);
}

uint64_t LiveTable::entries() const {
  uint64_t n = 0;
  for (const Shard& s : shards_) n += s.count.load(std::memory_order_relaxed);
  return n;
}

uint64_t LiveTable::prefetch(uintptr_t addr) const {
  const uint64_t h = hash_addr(addr);
  const Shard& s = shards_[shard_of(h)];
  // Unlocked reads: a stale array is harmless, a prefetch never faults.
  Entry* slots = __atomic_load_n(&s.slots, __ATOMIC_RELAXED);
  uint64_t mask = __atomic_load_n(&s.mask, __ATOMIC_RELAXED);
  if (slots) __builtin_prefetch(&slots[slot_of(h) & mask], 1);
  return h;
}

bool LiveTable::grow(Shard& s) {
  uint64_t old_cap = s.mask ? s.mask + 1 : 0;
  uint64_t cap = old_cap ? old_cap * 2 : kFirstCap;
  Entry* fresh;
  if (!old_cap) fresh = s.first;
  else if (cap < kMappedCap) fresh = (Entry*)small_.alloc(cap * sizeof(Entry));  // zeroed: fresh pages
  else fresh = (Entry*)os_map(cap * sizeof(Entry));
  if (!fresh) return false;
  uint64_t mask = cap - 1;
  for (uint64_t i = 0; i < old_cap; ++i) {
    if (!s.slots[i].addr) continue;
    uint64_t j = slot_of(hash_addr(s.slots[i].addr)) & mask;
    while (fresh[j].addr) j = (j + 1) & mask;
    fresh[j] = s.slots[i];
  }
  Entry* old = s.slots;
  s.slots = fresh;
  s.mask = mask;
  if (old && old_cap >= kMappedCap) os_unmap(old, old_cap * sizeof(Entry));
  return true;
}

// HOT PATH (every recorded allocation). Budget: one hash, one uncontended
// spinlock exchange, a short linear probe in a table kept under 70% load.
int LiveTable::insert_hashed(uintptr_t addr, uint64_t h, uint64_t size, uint32_t ref, LiveInfo* replaced) {
  if (size > kMaxTrackedSize) size = kMaxTrackedSize;
  Shard& s = shards_[shard_of(h)];
  const uint64_t meta = size << kRefBits | ref;
  lock(s);
  uint32_t n = s.count.load(std::memory_order_relaxed);
  if ((n + 1) * 10 > (s.mask + 1) * 7 || !s.slots) {
    if (!grow(s)) {
      unlock(s);
      return 0;
    }
  }
  uint64_t i = slot_of(h) & s.mask;
  for (;; i = (i + 1) & s.mask) {
    Entry& e = s.slots[i];
    if (e.addr == addr) {
      replaced->size = e.meta >> kRefBits;
      replaced->ref = (uint32_t)(e.meta & ((1u << kRefBits) - 1));
      e.meta = meta;
      unlock(s);
      return 2;
    }
    if (!e.addr) {
      e.addr = addr;
      e.meta = meta;
      break;
    }
  }
  s.count.store(n + 1, std::memory_order_relaxed);
  if (filter_on_) filter_add(filter_[filter_index(addr)]);
  unlock(s);
  return 1;
}

// HOT PATH (every free). Budget: as insert; in sampled mode usually one
// filter load and no lock at all.
bool LiveTable::erase(uintptr_t addr, LiveInfo* out) {
  const uint64_t h = hash_addr(addr);
  if (!maybe_tracked(addr)) return false;
  Shard& s = shards_[shard_of(h)];
  if (s.count.load(std::memory_order_relaxed) == 0) return false;
  lock(s);
  if (!s.slots) {
    unlock(s);
    return false;
  }
  const uint64_t mask = s.mask;
  uint64_t i = slot_of(h) & mask;
  for (;; i = (i + 1) & mask) {
    if (!s.slots[i].addr) {
      unlock(s);
      return false;
    }
    if (s.slots[i].addr == addr) break;
  }
  out->size = s.slots[i].meta >> kRefBits;
  out->ref = (uint32_t)(s.slots[i].meta & ((1u << kRefBits) - 1));
  // Backward-shift deletion: pull later members of the probe run into the hole.
  uint64_t hole = i;
  for (uint64_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    Entry& e = s.slots[j];
    if (!e.addr) break;
    uint64_t home = slot_of(hash_addr(e.addr)) & mask;
    // e may move to the hole if its home is not in (hole, j] cyclically.
    bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      s.slots[hole] = e;
      hole = j;
    }
  }
  s.slots[hole].addr = 0;
  s.slots[hole].meta = 0;
  s.count.store(s.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  if (filter_on_) filter_sub(filter_[filter_index(addr)]);
  unlock(s);
  return true;
}
}  // namespace hs
